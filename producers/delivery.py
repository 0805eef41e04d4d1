"""The kafka-python producer the collectors use, and how its errors are classified.

acks=all, retries bounded by ``delivery_timeout_ms``, keyed partitioning, lz4
or gzip compression, a short linger for batching. Idempotence is turned on
only when the broker grants a producer id (the embedded tansu broker does
not); without it one request in flight per connection keeps retries in order.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from kafka import KafkaProducer
from kafka.errors import IllegalStateError, KafkaError
from kafka.producer import sender as sender_mod

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings

__all__ = [
    "RedactRecordPayloads",
    "broker_supports_idempotence",
    "freeze",
    "is_frozen",
    "install_log_redaction",
    "is_retriable",
    "make_producer",
    "producer_config",
]

log = logging.getLogger(__name__)

_cache: dict[tuple[str, ...], bool] = {}


def broker_supports_idempotence(bootstrap: list[str], timeout_ms: int = 5000) -> bool:
    """Ask the cluster for a producer id (InitProducerId); True when it grants one."""
    key = tuple(bootstrap)
    if key in _cache:
        return _cache[key]
    from kafka.client_async import KafkaClient
    from kafka.protocol.init_producer_id import InitProducerIdRequest

    client = KafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        node = client.least_loaded_node()
        if node is None or not client.await_ready(node, timeout_ms=timeout_ms):
            raise KafkaError("no broker ready for the idempotence probe")
        version = client.api_version(InitProducerIdRequest, max_version=1)
        fut = client.send(
            node, InitProducerIdRequest[version](transactional_id=None, transaction_timeout_ms=60000)
        )
        client.poll(future=fut, timeout_ms=timeout_ms)
        ok = bool(fut.succeeded() and fut.value.error_code == 0)
    finally:
        client.close()
    _cache[key] = ok
    log.info("broker idempotent producer support: %s", ok)
    return ok


def _compression() -> str | None:
    return "lz4" if importlib.util.find_spec("lz4") is not None else "gzip"


def producer_config(settings: Settings, idempotent: bool, **overrides: Any) -> dict[str, Any]:
    """The producer configuration, shared with the benchmark's raw baseline."""
    if not settings.bootstrap_list:
        raise ConfigurationError("the collector needs bootstrap servers (LABSTREAM_BOOTSTRAP_SERVERS)")
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": "labstream-collector",
        "acks": "all",
        "enable_idempotence": idempotent,
        # kafka-python 2.3 refuses an idempotent producer with more than one request in flight
        # (KafkaConfigurationError): with 5, the collector never connected to an Apache Kafka that
        # grants producer ids (found by bench/chaos/kafka_faults.py; tansu grants none)
        "max_in_flight_requests_per_connection": 1,
        "compression_type": _compression(),
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": 16 * 1024 * 1024,
        "max_block_ms": 5000,
        "request_timeout_ms": 10000,
        "delivery_timeout_ms": 30000,
        "reconnect_backoff_max_ms": 2000,
    }
    config.update(overrides)
    return config


class RedactRecordPayloads(logging.Filter):
    """kafka-python logs every record's key and value at DEBUG ("Sending (key=... value=...)"):
    a pseudonym and code. Keep the line, drop the payload."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "key=" in record.msg and isinstance(record.args, tuple):
            record.msg = "%s: Sending a record (key and value redacted by LabStream) to %s"
            record.args = (record.args[0], record.args[-1]) if len(record.args) >= 2 else ()
        return True


_REDACTION = RedactRecordPayloads()


def install_log_redaction() -> None:
    """Attach :class:`RedactRecordPayloads` to kafka-python's producer logger (idempotent)."""
    logger = logging.getLogger("kafka.producer.kafka")
    if _REDACTION not in logger.filters:
        logger.addFilter(_REDACTION)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A connected producer; raises a KafkaError (e.g. NoBrokersAvailable) when Kafka is away."""
    install_log_redaction()
    if "enable_idempotence" not in overrides:
        overrides["enable_idempotence"] = broker_supports_idempotence(settings.bootstrap_list)
    idempotent = bool(overrides.pop("enable_idempotence"))
    producer = KafkaProducer(**producer_config(settings, idempotent, **overrides))
    _mend_failed_produce(producer)
    return producer


def _mend_failed_produce(producer: KafkaProducer) -> None:
    """Make a request that fails on the network (timeout, disconnect) fail or retry its batches.

    kafka-python 2.3.x's ``Sender._failed_produce`` hands ``_complete_batch`` the exception
    *instance* where an error *class* is expected; once the batch may not be retried,
    ``_fail_batch`` calls it ("'RequestTimedOutError' object is not callable"), the errback dies,
    and the batch's records resolve only if and when the in-flight expiry finds them: under load,
    18 of 100 records of a silent broker were still unresolved after 20 s (a failed run of
    ``test_collector_lost``), neither delivered, spooled nor counted. kafka-python 3 fixed it
    (``_complete_batch_with_exception``); this is the same repair for the pinned 2.3.x, on this
    producer's sender only. ``tests/test_third_party_contracts.py`` fails once an upgrade no
    longer has the defect, so the repair is dropped then.
    """
    try:
        sender = producer._sender  # noqa: SLF001 - see the docstring
        complete = sender._complete_batch  # noqa: SLF001

        def failed_produce(batches: Any, node_id: Any, error: BaseException) -> None:
            log.warning("Kafka produce request to node %s failed: %s", node_id, type(error).__name__)
            response = sender_mod.PartitionResponse(error=type(error), error_message=str(error) or None)
            for batch in batches:
                complete(batch, response)

        sender._failed_produce = failed_produce  # noqa: SLF001
    except Exception:  # noqa: BLE001 - the producer works without the repair, as kafka-python ships it
        log.exception("could not mend kafka-python's failed-produce handling (internals changed?)")


class _AllMuted(set[object]):
    """kafka-python's set of partitions it must not send to, made to hold every partition for good."""

    def __contains__(self, tp: object) -> bool:
        return True

    def add(self, tp: object) -> None:
        pass

    def remove(self, tp: object) -> None:
        pass

    def discard(self, tp: object) -> None:
        pass


def freeze(producer: KafkaProducer) -> None:
    """Make a producer send nothing more and fail, soon and in order, every record it still holds.

    Called on a producer's first failed send. kafka-python sends one batch per partition at a
    time and, when a batch expires during an outage, goes on to send the partition's next batch.
    If Kafka is back by then, that later batch arrives while the expired one goes to the spool
    and arrives after it: per-key order breaks (shown by
    ``tests/integration/test_collector_outage.py``). A frozen producer never starts another
    request (every partition counts as muted) and expires whatever it holds at once (delivery
    timeout 0), so no later record reaches Kafka ahead of the failed one. The failures do not
    come in send order (a batch in flight is failed after the batches queued behind it): the
    collector sorts them before they go to the spool. A request already in flight may still
    arrive: a duplicate at most, never out of order. The producer is then retired and a fresh
    one built.

    This reaches into kafka-python's ``RecordAccumulator`` (``muted``, ``delivery_timeout_ms``),
    which 2.3.x has; pyproject pins that range. Safe to call from a send callback (the sender
    thread) and more than once.
    """
    try:
        acc = producer._accumulator  # noqa: SLF001 - see the docstring
        if isinstance(acc.muted, _AllMuted):
            return
        acc.muted = _AllMuted()
        acc.config["delivery_timeout_ms"] = 0
        producer._sender.wakeup()  # noqa: SLF001
    except Exception:  # noqa: BLE001 - called from send callbacks: never raise before a record is spooled
        log.exception("could not freeze a Kafka producer (kafka-python internals changed?)")


def is_frozen(producer: KafkaProducer) -> bool:
    """Whether :func:`freeze` was called on ``producer``."""
    return isinstance(getattr(getattr(producer, "_accumulator", None), "muted", None), _AllMuted)


def is_retriable(exc: BaseException) -> bool:
    """Whether a failed send may succeed later (then it is spooled) or never will (e.g. too large).

    ``IllegalStateError`` is kafka-python giving up on a record itself ("Producer is closed
    forcefully", when the drainer retires a stuck producer), not Kafka refusing it: spooled too.
    """
    if isinstance(exc, IllegalStateError):
        return True
    if isinstance(exc, KafkaError):
        return bool(exc.retriable) or type(exc).__name__ == "UnknownError"
    return isinstance(exc, OSError)
