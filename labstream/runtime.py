"""Shared start-up helpers: resolve the broker (embedded or external) and create topics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from foundation.settings import Settings
from labstream.broker import EmbeddedBroker, ensure_topics, replication_factor_for

log = logging.getLogger(__name__)


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[Settings]:
    """Yield settings with bootstrap servers: the configured Kafka, or a broker started for the block.

    The broker started is tansu (memory only) unless ``embedded_broker`` is ``kafka``: then an
    Apache Kafka cluster of ``kafka_nodes`` nodes with its log dirs under ``data_dir/kafka``.
    """
    if settings.bootstrap_list:
        yield settings
        return
    if settings.embedded_broker == "kafka":
        from labstream.kafka_cluster import KafkaCluster

        cluster = KafkaCluster(
            settings.data_dir / "kafka",
            nodes=settings.kafka_nodes,
            jars_dir=settings.kafka_jars_dir,
            partitions=settings.partitions,
        )
        with cluster:
            log.info("no LABSTREAM_BOOTSTRAP_SERVERS: started Apache Kafka at %s", cluster.bootstrap)
            yield settings.model_copy(update={"bootstrap_servers": cluster.bootstrap, "broker_kind": "kafka"})
        return
    with EmbeddedBroker(port=settings.broker_port) as broker:
        log.info("no LABSTREAM_BOOTSTRAP_SERVERS: started the embedded broker at %s", broker.bootstrap)
        yield settings.model_copy(update={"bootstrap_servers": broker.bootstrap, "broker_kind": "tansu"})


def with_replication(settings: Settings) -> Settings:
    """Settings whose ``replication_factor`` is set: the configured one, else min(3, brokers)."""
    if settings.replication_factor is not None:
        return settings
    rf = replication_factor_for(settings.bootstrap_servers or "")
    return settings.model_copy(update={"replication_factor": rf})


def create_topics(settings: Settings) -> None:
    """Create LabStream's topics (existing ones are left as they are)."""
    # the internal topics too: left to auto-creation, they got the broker's default partition count,
    # not the tables' (co-partitioning by exercise and device type needs the same count)
    ensure_topics(
        settings.bootstrap_servers or "",
        settings.topics.all() + settings.internal_topics,
        settings.partitions,
        settings.replication_factor,
    )
