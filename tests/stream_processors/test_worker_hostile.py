"""Hostile records never stop the worker, and transient failures are never dead letters (issue 14).

The worker's real agents in Faust's ``test_context()`` (as in test_worker_agents.py): batches of
real Faust messages go straight into an agent's channel; the app's real producer delivers the
outputs and dead letters to the broker, where the test reads them back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from foundation.settings import Settings
from labstream.broker import ensure_topics
from labstream.runtime import create_worker
from schemas import Alert, CategorizedCommand, DeadLetter, NetworkMetrics
from stream_processors.app import Worker
from stream_processors.exceptions import TransientError
from stream_processors.records import MAX_DEAD_KEY, BatchResult, Record
from tests.fixtures.kafka import consume_all
from tests.stream_processors.test_worker_agents import _acked, _batch, _command

NORMAL = dict(
    packet_loss=0.002, latency_ms=20.0, bandwidth_utilization=0.4, connection_count=100, error_rate=0.002
)
SPIKE = {**NORMAL, "latency_ms": 3000.0, "packet_loss": 0.5}


async def _start(settings: Settings) -> Worker:
    return await _started(create_worker(settings, CollectorRegistry()))


async def _started(w: Worker) -> Worker:
    await w.app.producer.start()
    for table in (w.sessions, w.students, w.baselines, w.incidents):
        await table.changelog_topic.maybe_declare()
        await w.app.producer._ensure_producer().partitions_for(table.changelog_topic.get_topic_name())
    return w


@pytest.fixture
async def make_worker(settings_factory: Callable[..., Settings]) -> AsyncIterator[Callable[..., Any]]:
    started: list[Worker] = []

    async def make(**overrides: Any) -> Worker:
        w = await _start(settings_factory(**overrides))
        started.append(w)
        return w

    yield make
    for w in started:
        await w.app.producer.stop()
        await w.pool.close()


async def _outputs(w: Worker, topics: list[str], n: int, timeout: float = 20) -> dict[str, list[Any]]:
    return await consume_all(
        w.settings.bootstrap_servers or "",
        topics,
        until=lambda g: sum(map(len, g.values())) >= n,
        timeout=timeout,
    )


async def _run(w: Worker, agent: str, batch: Any, timeout: float = 30.0) -> None:
    async with w.app.agents[f"labstream.{agent}"].test_context() as ctx:
        await ctx.put(batch)
        assert await _acked(batch, timeout), f"batch not acked: {ctx._crash_reason!r}"


@pytest.mark.parametrize("key_kb", [400, 900])
async def test_a_huge_key_with_an_invalid_value_is_a_bounded_dead_letter(
    make_worker: Any, key_kb: int
) -> None:
    w = await make_worker()
    t = w.settings.topics
    key = b"K" * (key_kb * 1024)
    bad = b'{"event_type": "lab_command", "command": "' + b"x" * (600 * 1024) + b'"}'
    good = _command(0, "show version")
    await _run(w, "commands", _batch(w, t.lab_events, [(key, bad), (b"s-9", good)]))
    got = await _outputs(w, [t.dead_letters, t.commands_categorized], 2)
    [dead] = got[t.dead_letters]
    assert len(dead.key) == MAX_DEAD_KEY and dead.key == key[:MAX_DEAD_KEY]
    letter = DeadLetter.model_validate_json(dead.value)
    assert letter.stage == "validate" and letter.offset == 0
    assert base64.b64decode(letter.key or "") == key[:MAX_DEAD_KEY]
    assert f"of {len(key)} bytes (sha256 {hashlib.sha256(key).hexdigest()})" in letter.error
    [out] = [CategorizedCommand.model_validate_json(m.value) for m in got[t.commands_categorized]]
    assert out.normalized == "show version"  # the rest of its batch went through


async def test_readings_outside_physical_ranges_are_validate_dead_letters_and_the_batch_goes_on(
    make_worker: Any,
) -> None:
    w = await make_worker()
    t = w.settings.topics
    good = [NetworkMetrics(device_id="r1", **NORMAL) for _ in range(3)]
    spike = NetworkMetrics(device_id="r1", **SPIKE)
    hostile = []
    for field, value in [("connection_count", 10**400), ("connection_count", 2**63), ("latency_ms", 1e12)]:
        doc = json.loads(NetworkMetrics(device_id="r1", **NORMAL).to_bytes())
        doc[field] = value
        hostile.append(json.dumps(doc).encode())
    values = (
        [(b"r1", e.to_bytes()) for e in good] + [(b"r1", h) for h in hostile] + [(b"r1", spike.to_bytes())]
    )
    await _run(w, "metrics", _batch(w, t.network_metrics, values))
    got = await _outputs(w, [t.dead_letters, t.alerts], len(hostile) + 1)
    dead = sorted(
        (DeadLetter.model_validate_json(m.value) for m in got[t.dead_letters]), key=lambda d: d.offset
    )
    assert [(d.offset, d.stage) for d in dead] == [(3, "validate"), (4, "validate"), (5, "validate")]
    assert "less than or equal" in dead[0].error
    [alert] = [Alert.model_validate_json(m.value) for m in got[t.alerts]]
    assert alert.event_ids == [str(spike.event_id)]  # scored in its batch, not one record at a time
    # the three good readings and the spike (warm-up learns from every scored reading, clipped);
    # none of the three dead letters
    assert w.baselines["r1"]["n"] == 4


def _stamped(at: datetime, **fields: Any) -> bytes:
    return NetworkMetrics(device_id="r2", occurred_at=at, **fields).to_bytes()


async def test_occurred_at_too_far_ahead_or_behind_is_a_validate_dead_letter(make_worker: Any) -> None:
    w = await make_worker(max_clock_skew_s=60.0, event_horizon_s=86400.0)
    t = w.settings.topics
    now = datetime.now(UTC)
    values = [(b"r2", _stamped(now - timedelta(minutes=5 - i), **NORMAL)) for i in range(3)]
    values += [
        (b"r2", _stamped(now + timedelta(days=5 * 365), **SPIKE)),  # years ahead
        (b"r2", _stamped(now - timedelta(days=2), **SPIKE)),  # before the horizon
        (b"r2", _stamped(now + timedelta(seconds=30), **NORMAL)),  # within the skew: fine
    ]
    await _run(w, "metrics", _batch(w, t.network_metrics, values))
    real = NetworkMetrics(device_id="r2", occurred_at=datetime.now(UTC), **SPIKE)
    second = _batch(w, t.network_metrics, [(b"r2", real.to_bytes())])
    for m in second.messages:
        m.offset = 10
    await _run(w, "metrics", second)
    got = await _outputs(w, [t.dead_letters, t.alerts], 3)
    dead = sorted(
        (DeadLetter.model_validate_json(m.value) for m in got[t.dead_letters]), key=lambda d: d.offset
    )
    assert [(d.offset, d.stage) for d in dead] == [(3, "validate"), (4, "validate")]
    assert "ahead of the worker clock" in dead[0].error and "in the past" in dead[1].error
    # the future-dated spike did not open an incident that swallows the device's next real one
    [alert] = [Alert.model_validate_json(m.value) for m in got[t.alerts]]
    assert alert.event_ids == [str(real.event_id)]


async def test_transient_failures_are_retried_never_dead_lettered_permanent_ones_at_once(
    make_worker: Any,
) -> None:
    w = await make_worker()
    t = w.settings.topics
    records = [Record(t.lab_events, 0, i, b"s-9", _command(i, "show clock")) for i in range(3)]
    calls = {"transient": 0, "permanent": 0}

    def flaky(batch: list[Record]) -> BatchResult:
        calls["transient"] += 1
        if calls["transient"] <= 3:
            raise TransientError("the sandbox pool is restarting")
        return w.command_pipeline.process(batch)

    result = await w._process_safely(flaky, records, w.staged["commands"])
    assert not result.dead_letters and len(result.outputs) == 3 and calls["transient"] == 4

    def broken(batch: list[Record]) -> BatchResult:
        calls["permanent"] += 1
        if any(r.offset == 1 for r in batch):
            raise ValueError("this record can never be processed")
        return w.command_pipeline.process(batch)

    result = await w._process_safely(broken, records, w.staged["commands"])
    # the batch once, then each record once: no retry of a permanent failure
    assert calls["permanent"] == 1 + 3
    assert [(d.record.offset, d.stage) for d in result.dead_letters] == [(1, "process")]
    assert len(result.outputs) == 2


async def test_an_output_away_for_a_while_is_retried_with_no_dead_letter_and_no_loss(
    proxied_broker: Any, settings_factory: Callable[..., Settings]
) -> None:
    """Kafka away for 15 s under a batch's delivery: the batch waits unacked, nothing is dead-lettered,
    and every output arrives once Kafka is back (here aiokafka holds the sends itself; a send that
    fails with a transient error is retried by the worker, see the test above)."""
    bootstrap = proxied_broker.bootstrap
    settings = settings_factory(create=False, bootstrap_servers=bootstrap)
    ensure_topics(bootstrap, settings.topics.all(), settings.partitions)
    w = await _start(settings)
    try:
        t = w.settings.topics
        session = f"s-{uuid.uuid4().hex[:6]}"
        events = [{**json.loads(_command(i, "show clock")), "event_id": str(uuid.uuid4())} for i in range(20)]
        values = [(session.encode(), json.dumps(e).encode()) for e in events]
        batch = _batch(w, t.lab_events, values)
        proxied_broker.cut()  # every connection dropped, new ones refused: Kafka is away
        async with w.app.agents["labstream.commands"].test_context() as ctx:
            await ctx.put(batch)
            await asyncio.sleep(15)  # longer than the old fixed back-off (8.6 s in all)
            assert not any(m.acked for m in batch.messages)
            assert ctx._crash_reason is None
            proxied_broker.restore()
            assert await _acked(batch, 120), (
                f"not delivered after the broker came back: {ctx._crash_reason!r}"
            )
        got = await _outputs(w, [t.dead_letters, t.commands_categorized], 20, timeout=60)
        assert got[t.dead_letters] == []
        ids = {
            str(CategorizedCommand.model_validate_json(m.value).event_id) for m in got[t.commands_categorized]
        }
        assert ids == {e["event_id"] for e in events}
    finally:
        proxied_broker.restore()
        await w.app.producer.stop()
        await w.pool.close()


async def test_an_output_kafka_refuses_for_good_dead_letters_its_input_at_once(make_worker: Any) -> None:
    from stream_processors.records import Output

    w = await make_worker()
    t = w.settings.topics
    fine = Record(t.lab_events, 0, 4, b"s-1", _command(4, "show clock"))
    doomed = Record(t.lab_events, 0, 5, b"s-1", _command(5, "show clock"))
    outputs = [
        Output(t.commands_categorized, "s-1", b'{"event_id": "fine"}', fine),
        Output(t.commands_categorized, "s-1", b"x" * 2_000_000, doomed),  # over the producer's 1 MB limit
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await w._deliver(BatchResult(outputs=outputs))
    assert loop.time() - started < w.settings.delivery_retry_s  # not retried until the deadline
    got = await _outputs(w, [t.dead_letters, t.commands_categorized], 2)
    [dead] = [DeadLetter.model_validate_json(m.value) for m in got[t.dead_letters]]
    assert (dead.offset, dead.stage) == (5, "process")
    assert dead.error.startswith("output not deliverable: ") and "MessageSizeTooLargeError" in dead.error
    assert [m.value for m in got[t.commands_categorized]] == [b'{"event_id": "fine"}']


def test_retriable_is_read_through_wrappers() -> None:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
    from faust.exceptions import ProducerSendError

    from stream_processors.exceptions import is_retriable

    def wrapped(cause: Exception) -> Exception:
        try:
            raise ProducerSendError(f"Error while sending: {cause!r}") from cause
        except ProducerSendError as e:
            return e

    assert is_retriable(wrapped(KafkaConnectionError())) and is_retriable(wrapped(KafkaTimeoutError()))
    assert not is_retriable(wrapped(MessageSizeTooLargeError()))
    assert is_retriable(TransientError("x")) and is_retriable(TimeoutError())
    assert not is_retriable(ValueError("x")) and not is_retriable(wrapped(ValueError("x")))


async def test_a_transient_failure_in_the_one_by_one_fallback_retries_the_whole_batch(
    make_worker: Any,
) -> None:
    w = await make_worker()
    t = w.settings.topics
    lines = ["enable", "broken", "conf t"]
    records = [Record(t.lab_events, 0, i, b"s-9", _command(i, c)) for i, c in enumerate(lines)]
    failed_once = False

    def flaky(batch: list[Record]) -> BatchResult:
        nonlocal failed_once
        if any(r.offset == 1 for r in batch):
            raise ValueError("record 1 can never be processed")
        if len(batch) == 1 and batch[0].offset == 2 and not failed_once:
            failed_once = True
            raise TransientError("briefly away")
        return w.command_pipeline.process(batch)

    staged = w.staged["commands"]
    result = await w._process_safely(flaky, records, staged)
    assert failed_once
    assert [(d.record.offset, d.stage) for d in result.dead_letters] == [(1, "process")]
    out = [CategorizedCommand.model_validate_json(o.value) for o in result.outputs]
    # record 0's state survived the retry: "conf t" ran in privileged mode, once
    assert [(c.seq, c.mode) for c in out] == [(0, "exec"), (2, "privileged")]
    assert staged[0].get("s-9")["modes"] == ["config"]
