"""Soak: half the measured maximum throughput for 10 minutes with churning keys; RSS flat, lag
bounded, table sizes flat.

First the worker's maximum is measured: a burst of network metrics published as fast as possible,
timed until the worker's group has committed all of it. Then, for 10 minutes (60 s in the quick
run; ``make chaos`` only, not CI), metrics at half that rate plus lab commands and code submissions
at fixed rates, sampling the worker's RSS, its lag (records published but not yet committed) and
its table sizes (``labstream_table_keys`` on its ``/metrics``) every few seconds.

The keys churn: devices, sessions and students each have a fixed number of slots, and a slot's key
is replaced by a new one every ``idle_s`` (staggered across slots); an old key is never seen again.
The worker runs with that same short idle time (``LABSTREAM_STATE_IDLE_S``,
``LABSTREAM_DEVICE_STATE_TTL_S``) and sweeps every second or two. A table then holds at most the
keys active now plus those that went quiet within the last idle time and sweep: ``active + arrival
rate x (idle + sweep)``; the scenario fails if a sample exceeds that times :data:`MARGIN`, or if the
run saw too few keys for the bound to tell (without expiry a table holds every key seen).

The account is by offsets: the input topics are written by this scenario only, so published = their
end offsets, and the worker commits a batch only once its outputs are delivered.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.chaos.common import Account, Env, Observer, committed_offsets, end_offsets, rss_mb

RSS_GROWTH_MAX = 1.25  # end / start, after warm-up
RSS_SLACK_MB = 30.0
MARGIN = 1.5  # on the table-size bound: processing lag, sampling between two sweeps
EXERCISES = 5  # exercise ids used: the exercise-windows table's bound
COMMAND_RATE = 25.0  # lab commands a second during the soak
SUBMISSION_RATE = 5.0  # code submissions a second during the soak
COMMANDS = [
    "enable",
    "configure terminal",
    "interface GigabitEthernet0/1",
    "ip address 10.0.0.1 255.255.255.0",
    "no shutdown",
    "end",
    "show ip interface brief",
]


@dataclass(frozen=True)
class Size:
    seconds: float  # the soak at half the maximum
    burst: int  # readings of the maximum-throughput burst
    idle_s: float  # the worker's idle time for sessions, streaks and devices; also each key's life
    sweep_s: float  # the worker's expiry and incident sweeps
    sample_s: float


FULL = Size(seconds=600.0, burst=100_000, idle_s=60.0, sweep_s=2.0, sample_s=5.0)
QUICK = Size(seconds=60.0, burst=20_000, idle_s=8.0, sweep_s=1.0, sample_s=2.0)


@dataclass
class Churn:
    """Keys that churn: ``active`` slots, each slot's key replaced by a new one every ``life_s``
    (staggered, so ``active / life_s`` new keys a second), an old key never seen again."""

    prefix: str
    active: int
    life_s: float
    seen: set[str] = field(default_factory=set)

    def key(self, slot: int, t: float) -> str:
        generation = int((t + slot * self.life_s / self.active) // self.life_s)
        k = f"{self.prefix}{slot}-{generation}"
        self.seen.add(k)
        return k

    @property
    def arrivals_per_s(self) -> float:
        return self.active / self.life_s

    def bound(self, idle_s: float, sweep_s: float) -> int:
        """Keys a table may hold: those active now and those quiet for less than an idle time and a
        sweep, times :data:`MARGIN`."""
        return math.ceil(MARGIN * (self.active + self.arrivals_per_s * (idle_s + sweep_s)))


@dataclass
class Stream:
    """One input topic's traffic: ``rate`` a second (0: ``count`` records as fast as possible)."""

    topic: str
    churn: Churn
    rate: float = 0.0
    count: int = 0
    sent: int = 0
    seqs: dict[int, tuple[str, int]] = field(default_factory=dict)  # session slot: (key, next seq)

    def record(self, kind: str, t: float, when: str) -> tuple[bytes, bytes]:
        i = self.sent
        slot = i % self.churn.active
        key = self.churn.key(slot, t)
        base = {
            "event_id": str(uuid.uuid4()),
            "schema_version": 1,
            "occurred_at": when,
            "source": "chaos-soak",
        }
        if kind == "metrics":
            e: dict[str, Any] = base | {
                "event_type": "network_metrics",
                "device_id": key,
                "packet_loss": 0.002 + (i % 5) * 0.0005,
                "latency_ms": 20.0 + (i % 7) * 0.5,
                "bandwidth_utilization": 0.40 + (i % 3) * 0.01,
                "connection_count": 100 + (i % 9),
                "error_rate": 0.001 + (i % 4) * 0.0002,
            }
        elif kind == "commands":
            last, seq = self.seqs.get(slot, ("", 0))
            seq = seq if last == key else 0
            self.seqs[slot] = (key, seq + 1)
            e = base | {
                "event_type": "lab_command",
                "anonymous_id": f"k1-lab{key}",
                "session_id": key,
                "seq": seq,
                "device_type": "cisco_ios",
                "command": COMMANDS[seq % len(COMMANDS)],
            }
        else:
            e = base | {
                "event_type": "code_submission",
                "anonymous_id": key,
                "exercise_id": f"soak-ex-{i % EXERCISES}",
                "language": "python",
                "code": "if x = 1:\n  pass\n" if i % 4 == 0 else "print('ok')\n",
            }
        return key.encode(), json.dumps(e).encode()


def _publish(
    bootstrap: str, streams: dict[str, Stream], seconds: float, epoch: float, stop: threading.Event
) -> None:
    """Publish every stream at its rate for ``seconds`` (or its ``count`` as fast as possible), each
    record stamped with the wall clock and keyed by its churn at the time since ``epoch``."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    began = time.monotonic()
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - began
            if seconds and elapsed >= seconds:
                break
            when, t = datetime.now(UTC).isoformat(), time.monotonic() - epoch
            for kind, s in streams.items():
                due = int(elapsed * s.rate) + 1 if s.rate else s.count
                while s.sent < due:
                    key, value = s.record(kind, t, when)
                    producer.send(s.topic, key=key, value=value)
                    s.sent += 1
            if not seconds:
                break
            time.sleep(0.01)
        producer.flush(60)
    finally:
        producer.close(10)


async def _lag(settings: Any, topics: list[str]) -> int:
    ends = await end_offsets(settings, topics)
    done = await committed_offsets(settings)
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def _drained(settings: Any, topics: list[str], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    lag = await _lag(settings, topics)
    while lag > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        lag = await _lag(settings, topics)


_TABLE_KEYS = re.compile(r'^labstream_table_keys\{table="([a-z_]+)"\} ([0-9.e+]+)$', re.M)


def _table_keys(worker: Any) -> dict[str, int]:
    """``labstream_table_keys`` from the worker's ``/metrics``, by table (empty if not answered)."""
    try:
        status, body = worker.get("/metrics", timeout=5.0)
    except OSError:
        return {}
    return {m[0]: int(float(m[1])) for m in _TABLE_KEYS.findall(body.decode())} if status == 200 else {}


async def run(env: Env) -> Account:
    acc = Account("soak")
    size = QUICK if env.quick else FULL
    devices = Churn("soak-dev-", 500, size.idle_s)
    sessions = Churn("soak-s", 50, size.idle_s)
    students = Churn("k1-soak", 20, size.idle_s)
    settings = env.settings(
        state_idle_s=size.idle_s,
        state_sweep_s=size.sweep_s,
        device_state_ttl_s=size.idle_s,
        incident_sweep_s=size.sweep_s,
        alert_no_data_s=size.idle_s / 2,  # a quiet device's incident is resolved before it is forgotten
    )
    t = settings.topics
    topics = [t.network_metrics, t.lab_events, t.student_events]
    worker = env.worker(settings, "soak")
    await asyncio.to_thread(worker.wait_ready)
    assert worker.proc is not None
    stop = threading.Event()
    epoch = time.monotonic()

    metrics = Stream(t.network_metrics, devices, count=size.burst)
    began = time.monotonic()
    await asyncio.to_thread(_publish, env.bootstrap, {"metrics": metrics}, 0.0, epoch, stop)
    await _drained(settings, topics, 300)
    max_rate = metrics.sent / (time.monotonic() - began)

    metrics.rate, metrics.sent = max_rate / 2, 0
    streams = {
        "metrics": metrics,
        "commands": Stream(t.lab_events, sessions, rate=COMMAND_RATE),
        "code": Stream(t.student_events, students, rate=SUBMISSION_RATE),
    }
    rate = sum(s.rate for s in streams.values())
    samples: list[tuple[float, float, int, dict[str, int]]] = []  # (t, rss MB, lag, table keys)
    producer = asyncio.create_task(
        asyncio.to_thread(_publish, env.bootstrap, streams, size.seconds, epoch, stop)
    )
    t0 = time.monotonic()
    try:
        while not producer.done():
            samples.append(
                (
                    time.monotonic() - t0,
                    rss_mb(worker.proc.pid),
                    await _lag(settings, topics),
                    _table_keys(worker),
                )
            )
            await asyncio.sleep(size.sample_s)
        await producer
    finally:
        stop.set()
    await _drained(settings, topics, 120)
    samples.append(
        (time.monotonic() - t0, rss_mb(worker.proc.pid), await _lag(settings, topics), _table_keys(worker))
    )

    ends = await end_offsets(settings, topics)
    done = await committed_offsets(settings)
    async with Observer(settings) as obs:
        await obs.pump(3.0)
    acc.events_in = sum(ends.values())
    acc.dead_lettered = len(obs.dead_letters)
    acc.processed = sum(min(done.get(tp, 0), end) for tp, end in ends.items()) - acc.dead_lettered
    acc.lost = acc.events_in - acc.processed - acc.dead_lettered
    # RSS "start" after a warm-up (the first fifth): caches, model and tables reach their size first
    warm = [s for s in samples if s[0] >= size.seconds / 5] or samples
    acc.rss_mb = (round(warm[0][1], 1), round(samples[-1][1], 1))
    lags = [s[2] for s in samples]
    acc.lag = (lags[0], lags[-2] if len(lags) > 1 else lags[-1])
    bound = max(int(rate * 10), 1000)  # ten seconds of traffic
    acc.check(max(lags[:-1] or lags) <= bound, f"lag reached {max(lags)} (> {bound}, 10 s of traffic)")
    acc.check(
        acc.rss_mb[1] <= acc.rss_mb[0] * RSS_GROWTH_MAX + RSS_SLACK_MB,
        f"RSS grew {acc.rss_mb[0]} -> {acc.rss_mb[1]} MB",
    )
    acc.check(worker.proc.poll() is None, "worker died during the soak")
    tables = _check_tables(acc, samples, size, devices=devices, sessions=sessions, students=students)
    acc.detail = (
        f"max {max_rate:,.0f}/s (burst of {size.burst:,}), soak {rate:,.0f}/s "
        f"({metrics.rate:,.0f} metrics, {COMMAND_RATE:.0f} commands, {SUBMISSION_RATE:.0f} submissions) "
        f"for {size.seconds:.0f} s; "
        f"RSS {min(s[1] for s in samples):.0f}-{max(s[1] for s in samples):.0f} MB, max lag {max(lags)}; "
        f"{len(samples)} samples; idle {size.idle_s:.0f} s, sweeps {size.sweep_s:.0f} s; {tables}"
    )
    return acc


def _check_tables(
    acc: Account,
    samples: list[tuple[float, float, int, dict[str, int]]],
    size: Size,
    *,
    devices: Churn,
    sessions: Churn,
    students: Churn,
) -> str:
    """Fail the account when a table outgrew its bound; the figures (start / middle / end of the
    soak, the largest sample, the bound, the distinct keys published) as text."""
    during = [(s[0], s[3]) for s in samples[:-1] if s[3]]  # while traffic flowed
    if not acc.check(bool(during), "no labstream_table_keys samples from the worker's /metrics"):
        return "no table sizes"
    middle = min(range(len(during)), key=lambda i: abs(during[i][0] - size.seconds / 2))
    device_bound = devices.bound(size.idle_s, size.sweep_s)
    bounds = {  # table: (bound, distinct keys published, or None for a fixed set)
        "sessions": (sessions.bound(size.idle_s, size.sweep_s), len(sessions.seen)),
        "students": (students.bound(size.idle_s, size.sweep_s), len(students.seen)),
        "baselines": (device_bound, len(devices.seen)),
        "incidents": (device_bound, None),
        "exercises": (EXERCISES, None),
        "device_types": (1, None),
    }
    parts = []
    for table, (limit, seen) in bounds.items():
        series = [d.get(table, 0) for _, d in during]
        top = max(series)
        acc.check(top <= limit, f"table {table} reached {top} keys (> bound {limit}): {series}")
        if seen is not None:
            acc.check(
                seen > limit, f"{table}: {seen} keys seen, not more than the bound {limit}: run too short"
            )
        parts.append(
            f"{table} {series[0]}/{series[middle]}/{series[-1]} (max {top}, bound {limit}"
            + (f", {seen} keys seen)" if seen is not None else ")")
        )
    return "table keys start/middle/end: " + ", ".join(parts)
