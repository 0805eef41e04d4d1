"""Bounded state under churning keys (issue 14): table sizes stay flat while the keys seen keep growing.

The worker's real agents in Faust's ``test_context()`` (as in test_worker_agents.py) on the session
broker. Each round brings new sessions, students and devices and none of the old ones come back;
then the worker's two sweeps run (the methods its timers call) and the table sizes are read through
``labstream_table_keys``. The clock the pipelines stamp state with (sessions, streaks) and the
readings' event time (devices) move one ``STEP_S`` per round, so nothing waits on the wall clock.
Without expiry every table holds every key ever seen and the test fails.
"""

from __future__ import annotations

import contextlib
import json
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from faust.assignor.client_assignment import ClientAssignment, ClientMetadata
from faust.types import Message
from prometheus_client import CollectorRegistry

from foundation.settings import Settings
from labstream.runtime import create_worker
from schemas import NetworkMetrics
from stream_processors.app import Worker
from stream_processors.intake import Batch
from tests.fixtures.metrics import normal_reading
from tests.stream_processors.test_worker_agents import _acked
from tests.stream_processors.test_worker_hostile import _started

ROUNDS = 12
PER_ROUND = 4  # new sessions, students and devices each round
STEP_S = 10.0  # the clock moves this much per round
IDLE_S = 25.0  # state_idle_s and device_state_ttl_s: a key is gone three rounds after its last event
# keys of the last rounds within one idle time (the round itself included): the most a table may hold
BOUND = PER_ROUND * (int(IDLE_S // STEP_S) + 1)
CHURNING = ("sessions", "students", "baselines")


@pytest.fixture
async def worker(settings_factory: Callable[..., Settings]) -> AsyncIterator[Worker]:
    s = settings_factory(state_idle_s=IDLE_S, device_state_ttl_s=IDLE_S, alert_no_data_s=IDLE_S / 2)
    w = await _started(create_worker(s, CollectorRegistry()))  # changelogs declared, producer started
    # the group coordinator's part: this worker actively owns every changelog partition (one worker)
    actives = {
        t.changelog_topic.get_topic_name(): list(range(s.partitions)) for t in (w.sessions, w.students)
    }
    _assign_as_sole_member(w, actives)
    yield w
    await w.app.producer.stop()
    await w.pool.close()


def _assign_as_sole_member(w: Worker, actives: dict[str, list[int]]) -> None:
    """Give the assignor what the group leader sends a one-member group, through its public method.

    ``on_assignment`` is the assignor interface aiokafka's coordinator calls after a join; the user data
    is Faust's own wire format (zlib-compressed ``ClientMetadata``). An upgrade that changes either makes
    this fail loudly rather than leave the worker owning nothing.
    """
    metadata = ClientMetadata(
        assignment=ClientAssignment(actives=actives, standbys={}),
        url=str(w.app.conf.canonical_url),
        changelog_distribution={},
    )
    assignment = ConsumerProtocolMemberAssignment(0, sorted(actives.items()), zlib.compress(metadata.dumps()))
    w.app.assignor.on_assignment(assignment)
    assert w.app.assignor.assigned_actives() == {(t, p) for t, ps in actives.items() for p in ps}


class _Feed:
    """Batches of real Faust messages, offsets going on per topic as a consumer would see them."""

    def __init__(self, w: Worker) -> None:
        self.w = w
        self.offsets: dict[str, int] = {}

    def batch(self, topic: str, values: list[tuple[str, dict[str, Any]]]) -> Batch:
        first = self.offsets.get(topic, 0)
        self.offsets[topic] = first + len(values)
        msgs = [
            Message(
                topic=topic,
                partition=0,
                offset=first + i,
                timestamp=1.0,
                timestamp_type=0,
                headers=None,
                key=k.encode(),
                value=json.dumps(v).encode(),
                checksum=None,
                generation_id=self.w.app.consumer_generation_id,
            )
            for i, (k, v) in enumerate(values)
        ]
        return Batch(self.w.app.consumer, msgs)


def _round(r: int, at: float) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Round ``r``'s events: each session, student and device is new and never seen again."""
    when = datetime.fromtimestamp(at, UTC)
    commands, code, readings = [], [], []
    for j in range(PER_ROUND):
        session, student = f"churn-{r}-{j}", f"k1-{uuid.uuid4().hex}"
        for seq, line in enumerate(["enable", "conf t"]):
            command = {"session_id": session, "seq": seq, "device_type": "cisco_ios", "command": line}
            commands.append((session, {"event_type": "lab_command", "anonymous_id": student, **command}))
        submission = {"exercise_id": "ex-churn", "language": "python", "code": "if x = 1:\n  pass\n"}
        code.append((student, {"event_type": "code_submission", "anonymous_id": student, **submission}))
        device = f"dev-churn-{r}-{j}"
        for i in range(3):
            reading = NetworkMetrics(device_id=device, occurred_at=when, **normal_reading(i))
            readings.append((device, json.loads(reading.to_bytes())))
    return {"commands": commands, "code": code, "metrics": readings}


async def test_table_sizes_stay_bounded_while_the_keys_seen_keep_growing(worker: Worker) -> None:
    w, t = worker, worker.settings.topics
    feed = _Feed(w)
    topics = {"commands": t.lab_events, "code": t.student_events, "metrics": t.network_metrics}
    clock = [datetime.now(UTC).timestamp() - (ROUNDS + 6) * STEP_S]  # event times in the past
    w.command_pipeline.clock = w.code_pipeline.clock = lambda: clock[0]
    sizes: list[dict[str, float]] = []
    seen: dict[str, set[str]] = {name: set() for name in CHURNING}
    async with contextlib.AsyncExitStack() as stack:
        ctx = {
            a: await stack.enter_async_context(w.app.agents[f"labstream.{a}"].test_context()) for a in topics
        }
        for r in range(ROUNDS):
            clock[0] += STEP_S
            events = _round(r, clock[0])
            for agent, values in events.items():
                batch = feed.batch(topics[agent], values)
                await ctx[agent].put(batch)
                assert await _acked(batch, 30.0), f"round {r}: {agent} batch not acked"
            seen["sessions"].update(k for k, _ in events["commands"])
            seen["students"].update(k for k, _ in events["code"])
            seen["baselines"].update(k for k, _ in events["metrics"])
            w.expire_idle_state(clock[0])  # what the timers run, with this test's clock
            await w.sweep_incidents()
            got = {
                name: w.registry.get_sample_value("labstream_table_keys", {"table": name})
                for name in (*CHURNING, "incidents")
            }
            sizes.append({k: v or 0.0 for k, v in got.items()})
            # the gauge is the table's size
            assert got == {name: float(len(w.tables[name])) for name in got}, f"round {r}"

    for name in CHURNING:
        assert len(seen[name]) == ROUNDS * PER_ROUND > 2 * BOUND  # the keys seen keep growing
        series = [s[name] for s in sizes]
        # without expiry the table holds every key seen: PER_ROUND, 2 x PER_ROUND, ..., ROUNDS x PER_ROUND
        assert max(series) <= BOUND, f"{name}: {series} (bound {BOUND})"
        half = series[ROUNDS // 2 :]
        assert min(half) == max(half) == BOUND, f"{name} not flat once the first keys expire: {series}"
    assert max(s["incidents"] for s in sizes) <= BOUND
    expired = w.registry.get_sample_value("labstream_state_expired_keys_total", {"table": "sessions"})
    assert expired == ROUNDS * PER_ROUND - BOUND
