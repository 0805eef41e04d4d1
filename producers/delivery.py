"""The kafka-python producer the collectors use, and how its errors are classified.

acks=all, retries bounded by ``delivery_timeout_ms``, keyed partitioning, lz4
or gzip compression, a short linger for batching. Idempotence is turned on
only when the broker grants a producer id (the embedded tansu broker does
not); without it one request in flight per connection keeps retries in order.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from typing import Any

from kafka import KafkaProducer
from kafka import errors as kafka_errors
from kafka.errors import IllegalStateError, KafkaError
from kafka.producer import sender as sender_mod
from kafka.producer.transaction_manager import ProducerIdAndEpoch
from kafka.protocol.init_producer_id import InitProducerIdRequest

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
    """Ask the cluster for a producer id (InitProducerId); True when it grants one.

    A retriable refusal is asked again until ``timeout_ms``: Apache Kafka answers the first
    InitProducerId after it starts with COORDINATOR_LOAD_IN_PROGRESS while it fetches its first
    block of producer ids. Read as "not supported" (and cached), that made idempotence depend on
    whether an earlier client had already asked: a collector started first ran without it for the
    life of its process, one started later with it. A definite refusal (tansu: UNKNOWN_SERVER_ERROR)
    is False at once; no answer, or one still retriable at the deadline, is False and not cached.
    """
    key = tuple(bootstrap)
    if key in _cache:
        return _cache[key]
    from kafka.client_async import KafkaClient

    client = KafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        node = client.least_loaded_node()
        if node is None or not client.await_ready(node, timeout_ms=timeout_ms):
            raise KafkaError("no broker ready for the idempotence probe")
        # the answers get their own timeout_ms: a slow connect must not leave them none
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            fut = _ask_producer_id(
                client, node, deadline, transactional_id=None, transaction_timeout_ms=60000
            )
            error = kafka_errors.for_code(fut.value.error_code) if fut.succeeded() else None
            ok = error is kafka_errors.NoError
            retriable = error is not None and not ok and bool(getattr(error, "retriable", False))
            if not retriable or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    finally:
        client.close()
    if retriable or error is None:
        why = getattr(error, "__name__", None) or (
            type(fut.exception).__name__ if fut.exception is not None else "no answer"
        )
        log.warning("the idempotence probe got no definite answer (%s): this producer is not idempotent", why)
        return False
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
    _bound_producer_id_wait(producer)
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


def _bound_producer_id_wait(producer: KafkaProducer) -> None:
    """Make an idempotent producer's wait for a producer id one bounded try that expires batches.

    When a batch that was already sent expires (Kafka away for longer than the delivery timeout),
    kafka-python 2.3.x resets the producer id, and its sender then loops in
    ``Sender._maybe_wait_for_producer_id`` until Kafka grants a new one: it never returns while
    Kafka is away, so no batch expires, no send fails, a frozen producer never fails what it holds
    and ``close`` cannot stop it. With Kafka silent the collector neither spooled nor counted those
    events until Kafka was back (``test_collector_outage.py``'s silent-broker test: 0 of 2000
    spooled after 8 s, the sender's stack in ``_maybe_wait_for_producer_id``). The Java client
    expires batches while it has no producer id; this is the same for the pinned 2.3.x, on this
    producer's sender only: each sender loop makes one InitProducerId try bounded by
    ``request_timeout_ms`` (kafka-python's own loop body, see ``_init_producer_id_once``) and,
    while there is still no producer id, fails the batches past their delivery timeout as the
    sender's own expiry does. ``tests/test_third_party_contracts.py`` pins the source it replaces.
    """
    try:
        sender = producer._sender  # noqa: SLF001 - see the docstring
        manager = sender._transaction_manager  # noqa: SLF001
        if manager is None or manager.is_transactional():
            return  # not idempotent (or transactional, which LabStream never is): nothing waits

        logged = False  # an unexpected failure is logged once per producer

        def maybe_wait_for_producer_id() -> None:
            nonlocal logged
            if manager.has_producer_id():
                return
            try:
                _expire_batches(sender)
                _init_producer_id_once(sender, manager)
                if not manager.has_producer_id():
                    _expire_batches(sender)
            except Exception:  # noqa: BLE001 - Sender.run would call run_once again at once: a hot loop
                if not logged:
                    log.exception("the bounded producer-id wait failed (kafka-python internals changed?)")
                    logged = True
                sender._client.poll(timeout_ms=sender.config["retry_backoff_ms"])  # noqa: SLF001

        sender._maybe_wait_for_producer_id = maybe_wait_for_producer_id  # noqa: SLF001
    except Exception:  # noqa: BLE001 - the producer works without the repair, as kafka-python ships it
        log.exception("could not bound kafka-python's producer-id wait (internals changed?)")


def _init_producer_id_once(sender: Any, manager: Any) -> None:
    """One pass of kafka-python 2.3.3's ``Sender._maybe_wait_for_producer_id`` loop, bounded.

    The same request and the same handling of its answer; waits at most ``request_timeout_ms`` in
    all (kafka-python waits up to 30 s for a node, then for the answer, and loops until Kafka
    grants an id).
    """
    client = sender._client  # noqa: SLF001
    timeout_ms = sender.config["request_timeout_ms"]
    deadline = time.monotonic() + timeout_ms / 1000
    node_id = None
    try:
        node_id = client.least_loaded_node()
        if node_id is None or not client.await_ready(node_id, timeout_ms=timeout_ms):
            return
        future = _ask_producer_id(
            client,
            node_id,
            deadline,
            transactional_id=sender.config["transactional_id"],
            transaction_timeout_ms=sender.config["transaction_timeout_ms"],
        )
        if not future.succeeded():
            return  # failed or unanswered: tried again at the next sender loop
        response = future.value
        error_type = kafka_errors.for_code(response.error_code)
        if error_type is kafka_errors.NoError:
            granted = ProducerIdAndEpoch(response.producer_id, response.producer_epoch)
            manager.set_producer_id_and_epoch(granted)
        elif getattr(error_type, "retriable", False):
            if getattr(error_type, "invalid_metadata", False):
                sender._metadata.request_update()  # noqa: SLF001
        else:
            manager.transition_to_fatal_error(error_type())
    except (kafka_errors.KafkaConnectionError, kafka_errors.RequestTimedOutError):
        log.debug("InitProducerId to node %s failed; tried again at the next sender loop", node_id)


def _ask_producer_id(
    client: Any, node_id: Any, deadline: float, *, transactional_id: str | None, transaction_timeout_ms: int
) -> Any:
    """Send InitProducerId to a ready ``node_id`` and poll until answered or ``deadline`` (monotonic)."""
    version = client.api_version(InitProducerIdRequest, max_version=1)
    request = InitProducerIdRequest[version](
        transactional_id=transactional_id, transaction_timeout_ms=transaction_timeout_ms
    )
    future = client.send(node_id, request)
    client.poll(future=future, timeout_ms=max(0, int((deadline - time.monotonic()) * 1000)))
    return future


def _expire_batches(sender: Any) -> None:
    """Fail the batches past their delivery timeout, queued or in flight, as ``Sender`` does."""
    now = time.time()
    accumulator = sender._accumulator  # noqa: SLF001
    accumulator.reset_next_batch_expiry_time()
    expired = accumulator.expired_batches(now=now)
    expired.extend(sender._get_expired_inflight_batches(now=now))  # noqa: SLF001
    for batch in expired:
        message = (
            f"Expiring {batch.record_count} record(s) for {batch.topic_partition}: "
            f"{int((time.time() - batch.created) * 1000)} ms has passed since batch creation "
            "(no producer id: Kafka away)"
        )
        response = sender_mod.PartitionResponse(error=kafka_errors.KafkaTimeoutError, error_message=message)
        sender._fail_batch(batch, response)  # noqa: SLF001


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
