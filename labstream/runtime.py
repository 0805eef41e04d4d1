"""Shared start-up helpers: resolve the broker (embedded or external) and create topics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from labstream.broker import EmbeddedBroker, ensure_topics
from labstream.settings import Settings

log = logging.getLogger(__name__)


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[Settings]:
    """Yield settings with bootstrap servers: the configured Kafka, or an embedded broker for the block."""
    if settings.bootstrap_list:
        yield settings
        return
    with EmbeddedBroker(port=settings.broker_port) as broker:
        log.info("no LABSTREAM_BOOTSTRAP_SERVERS: started the embedded broker at %s", broker.bootstrap)
        yield settings.model_copy(update={"bootstrap_servers": broker.bootstrap, "broker_kind": "tansu"})


def create_topics(settings: Settings) -> None:
    """Create LabStream's topics (existing ones are left as they are)."""
    # the internal topics too: left to auto-creation, they got the broker's default partition count,
    # not the tables' (co-partitioning by exercise and device type needs the same count)
    topics = settings.topics.all() + settings.internal_topics
    ensure_topics(settings.bootstrap_list[0], topics, settings.partitions)
