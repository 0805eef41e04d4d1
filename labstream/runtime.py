"""Shared start-up helpers: resolve the broker (embedded or external), create topics, build a worker
(its web port and what it serves with no promoted model are decided here)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from labstream.broker import EmbeddedBroker, ensure_topics, free_port, replication_factor_for

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from stream_processors.app import Worker

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


TRAIN_AND_PROMOTE = "labstream model train --topic <network-metrics topic> --start ... --end ... --promote"


def ensure_serving_model(settings: Settings) -> None:
    """Decide what a worker serves when no model is promoted: the one place that decides it.

    With a promoted model, nothing to do (the worker loads it). Without one, production refuses
    (:class:`ConfigurationError` naming the command that trains and promotes one, nothing trained
    behind the operator's back); development trains and promotes a model on SYNTHETIC traffic and
    logs a warning saying so.
    """
    from detector import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    if registry.current_version() is not None:
        return
    if settings.environment == "production":
        raise ConfigurationError(
            f"no promoted anomaly model in {settings.model_dir}: the worker will not score "
            f"production traffic with a synthetic stand-in. Train and promote one first: "
            f"`{TRAIN_AND_PROMOTE}` (or `labstream model promote VERSION` for a stored one)"
        )
    log.warning(
        "NO PROMOTED MODEL in %s: training and promoting a model on SYNTHETIC traffic "
        "(development only; production refuses to start). Alerts are not meaningful for "
        "real devices until you run `%s`",
        settings.model_dir,
        TRAIN_AND_PROMOTE,
    )
    registry.ensure_model(seed=42)


def with_worker_port(settings: Settings) -> Settings:
    """Settings whose ``worker_web_port`` is a port: the configured one, else one free now (0)."""
    if settings.worker_web_port:
        return settings
    return settings.model_copy(update={"worker_web_port": free_port(settings.worker_web_host)})


def create_worker(settings: Settings, registry: CollectorRegistry | None = None) -> Worker:
    """A worker as ``labstream worker`` runs it: its web port picked and its model decided here."""
    # looked up per call, not imported by name: bench._agent swaps the worker factory for its
    # consume-only baseline
    from stream_processors import app as worker_app

    settings = with_worker_port(settings)
    ensure_serving_model(settings)
    return worker_app.create_worker(settings, registry)
