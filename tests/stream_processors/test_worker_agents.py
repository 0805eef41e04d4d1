"""The worker's Faust agents in Faust's ``test_context()``: real agents, real tables on the memory store.

Batches of real Faust ``Message`` objects are put straight into each agent's channel (no consumer,
no consumer group); the app's real producer sends the outputs and table changelogs to the session
broker, where the test reads them back. Only the failure test swaps the send for one that fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faust.types import Message
from prometheus_client import CollectorRegistry

from foundation.settings import Settings
from labstream.runtime import create_worker
from schemas import Alert, CategorizedCommand, DeadLetter, NetworkMetrics
from stream_processors.app import Worker
from stream_processors.intake import Batch
from stream_processors.records import Output
from tests.fixtures.kafka import consume_all


@pytest.fixture
async def worker(settings_factory: Callable[..., Settings]) -> AsyncIterator[Worker]:
    w = create_worker(settings_factory(), CollectorRegistry())
    await w.app.producer.start()
    # What the worker's start-up does before the agents run: declare the tables' changelog topics
    # and have the producer know their partitions (tables route writes with the key partitioner).
    for table in (w.sessions, w.students, w.baselines, w.incidents):
        await table.changelog_topic.maybe_declare()
        await w.app.producer._ensure_producer().partitions_for(table.changelog_topic.get_topic_name())
    yield w
    await w.app.producer.stop()


async def _acked(batch: Batch, timeout: float = 10.0) -> bool:
    """put() returns once the agent has the batch; its ack comes after the outputs are delivered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not all(m.acked for m in batch.messages) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return all(m.acked for m in batch.messages)


async def _sent(w: Worker, topics: list[str], n: int) -> dict[str, list[Any]]:
    got = await consume_all(
        w.settings.bootstrap_servers or "", topics, until=lambda g: sum(map(len, g.values())) >= n, timeout=20
    )
    return got


def _batch(
    w: Worker,
    topic: str,
    values: list[tuple[bytes, bytes]],
    partition: int = 0,
    generation: int | None = None,
) -> Batch:
    msgs = [
        Message(
            topic=topic,
            partition=partition,
            offset=i,
            timestamp=1.0,
            timestamp_type=0,
            headers=None,
            key=k,
            value=v,
            checksum=None,
            generation_id=w.app.consumer_generation_id if generation is None else generation,
        )
        for i, (k, v) in enumerate(values)
    ]
    return Batch(w.app.consumer, msgs)


def _command(seq: int, command: str) -> bytes:
    return json.dumps(
        {
            "event_type": "lab_command",
            "anonymous_id": "k1-" + "b" * 32,
            "session_id": "s-9",
            "seq": seq,
            "device_type": "cisco_ios",
            "command": command,
        }
    ).encode()


async def test_commands_agent_keeps_cli_mode_in_its_table(worker: Worker) -> None:
    t = worker.settings.topics
    agent = worker.app.agents["labstream.commands"]
    lines = ["enable", "conf t", "router bgp 65000", "neighbor 10.0.0.2 remote-as 65001", "end"]
    batch = _batch(worker, t.lab_events, [(b"s-9", _command(i, c)) for i, c in enumerate(lines)])
    async with agent.test_context() as ctx:
        await ctx.put(batch)
        assert await _acked(batch)  # acked only once the outputs were delivered
    got = await _sent(worker, [t.commands_categorized], len(lines))
    out = sorted(
        (CategorizedCommand.model_validate_json(m.value) for m in got[t.commands_categorized]),
        key=lambda c: c.seq,
    )
    assert [(c.category, c.mode) for c in out] == [
        ("other", "exec"),
        ("config", "privileged"),
        ("routing", "config"),
        ("routing", "config-router"),
        ("other", "config-router"),
    ]
    # the session's state is in the table (memory store), where the next batch will find it
    assert worker.sessions["s-9"] is not None


async def test_metrics_agent_dead_letters_bad_bytes_and_alerts_on_a_spike(worker: Worker) -> None:
    t = worker.settings.topics
    agent = worker.app.agents["labstream.metrics"]
    normal = dict(
        packet_loss=0.002, latency_ms=20.0, bandwidth_utilization=0.4, connection_count=100, error_rate=0.002
    )
    events = [NetworkMetrics(device_id="r1", **normal) for _ in range(3)]
    spike = NetworkMetrics(device_id="r1", **{**normal, "latency_ms": 3000.0, "packet_loss": 0.5})
    values = [(b"r1", e.to_bytes()) for e in events] + [(b"r1", b"\xff garbage"), (b"r1", spike.to_bytes())]
    batch = _batch(worker, t.network_metrics, values)
    async with agent.test_context() as ctx:
        await ctx.put(batch)
        assert await _acked(batch)
    by_topic = await _sent(worker, [t.dead_letters, t.alerts], 2)
    [dead] = [DeadLetter.model_validate_json(o.value) for o in by_topic[t.dead_letters]]
    assert (dead.stage, dead.offset, dead.original_value()) == ("decode", 3, b"\xff garbage")
    [alert] = [Alert.model_validate_json(o.value) for o in by_topic[t.alerts]]
    assert alert.subject == "r1" and alert.event_ids == [str(spike.event_id)]
    assert alert.model_version == worker.model.detector.version
    # a warm-up reading counts even when flagged (a device unlike the fleet must be able to warm up),
    # but clipped: the spike barely moves the baseline (detector.baseline)
    state = worker.baselines["r1"]
    assert state["n"] == 4
    assert abs(state["mean"][1] - 20.0) < 1.0 and state["mean"][0] < 0.01
    assert worker.incidents["r1"]["alert_id"] == alert.alert_id


async def test_a_batch_whose_outputs_cannot_be_sent_is_not_acked(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stream_processors.app as app_module

    t = worker.settings.topics

    async def refuse(outputs: list[Output]) -> list[tuple[Output, Exception]]:
        return [(o, ConnectionError("Kafka is away")) for o in outputs]

    worker._send_each = refuse  # type: ignore[method-assign]
    monkeypatch.setattr(app_module, "_SEND_RETRY_S", (0.01,))
    worker.settings = worker.settings.model_copy(update={"delivery_retry_s": 0.5})
    batch = _batch(worker, t.lab_events, [(b"s-9", _command(0, "show version"))])
    agent = worker.app.agents["labstream.commands"]
    async with agent.test_context() as ctx:
        await ctx.put(batch)
        assert not await _acked(batch, timeout=2.0)  # retried, given up, never acked
        assert isinstance(ctx._crash_reason, ConnectionError)  # the agent stops rather than skip it


async def test_a_batch_from_an_old_generation_is_processed_not_dropped(worker: Worker) -> None:
    # fetched before a rebalance: its partition may still be ours (not sought back), so dropping it
    # lost events; it is processed, its output sent, and only then acked
    t = worker.settings.topics
    old = worker.app.consumer_generation_id - 1
    batch = _batch(worker, t.lab_events, [(b"s-old", _command(0, "show version"))], generation=old)
    assert all(m.generation_id != worker.app.consumer_generation_id for m in batch.messages)
    agent = worker.app.agents["labstream.commands"]
    async with agent.test_context() as ctx:
        await ctx.put(batch)
        assert await _acked(batch)
    got = await _sent(worker, [t.commands_categorized], 1)
    [out] = [CategorizedCommand.model_validate_json(m.value) for m in got[t.commands_categorized]]
    assert (out.session_id, out.normalized) == ("s-9", "show version")
