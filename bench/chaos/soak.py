"""Soak: half the measured maximum throughput for 10 minutes; RSS flat, lag bounded.

First the worker's maximum is measured: a burst of network metrics published as fast
as possible, timed until the worker's group has committed all of it. Then metrics
from 500 devices are published at half that rate for 10 minutes (30 s in the quick
run; ``make chaos`` only, not CI), sampling the worker's RSS and its lag (records
published but not yet committed) every few seconds. The account is by offsets: the
topic is written by this scenario only, so published = its end offsets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.chaos.common import Account, Env, Observer, committed_offsets, end_offsets, rss_mb

DEVICES = 500
RSS_GROWTH_MAX = 1.25  # end / start, after warm-up
RSS_SLACK_MB = 30.0


def _reading(i: int, start: datetime) -> tuple[bytes, bytes]:
    device = f"soak-{i % DEVICES}"
    e = {
        "event_id": str(uuid.uuid4()),
        "event_type": "network_metrics",
        "schema_version": 1,
        "occurred_at": (start + timedelta(milliseconds=10 * i)).isoformat(),
        "source": "chaos-soak",
        "device_id": device,
        "packet_loss": 0.002 + (i % 5) * 0.0005,
        "latency_ms": 20.0 + (i % 7) * 0.5,
        "bandwidth_utilization": 0.40 + (i % 3) * 0.01,
        "connection_count": 100 + (i % 9),
        "error_rate": 0.001 + (i % 4) * 0.0002,
    }
    return device.encode(), json.dumps(e).encode()


def _produce(
    topic: str, bootstrap: str, rate: float, seconds: float, first: int, stop: threading.Event
) -> int:
    """Publish at ``rate``/s for ``seconds`` (0 rate: as fast as possible, ``seconds`` is then a count)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    start = datetime.now(UTC) - timedelta(hours=1)
    sent, began = 0, time.monotonic()
    try:
        while not stop.is_set():
            if rate:
                elapsed = time.monotonic() - began
                if elapsed >= seconds:
                    break
                due = int(elapsed * rate) + 1
            else:
                due = int(seconds)
                if sent >= due:
                    break
            while sent < due:
                key, value = _reading(first + sent, start)
                producer.send(topic, key=key, value=value)
                sent += 1
            if rate:
                time.sleep(0.01)
        producer.flush(60)
    finally:
        producer.close(10)
    return sent


async def _lag(settings, topic: str) -> int:
    ends = await end_offsets(settings, [topic])
    done = await committed_offsets(settings)
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def _drained(settings, topic: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    lag = await _lag(settings, topic)
    while lag > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        lag = await _lag(settings, topic)


async def run(env: Env) -> Account:
    acc = Account("soak")
    seconds = 30.0 if env.quick else 600.0
    burst = 20_000 if env.quick else 100_000
    settings = env.settings()
    topic = settings.topics.network_metrics
    worker = env.worker(settings, "soak")
    await asyncio.to_thread(worker.wait_ready)
    assert worker.proc is not None
    stop = threading.Event()

    began = time.monotonic()
    n = await asyncio.to_thread(_produce, topic, env.bootstrap, 0, burst, 0, stop)
    await _drained(settings, topic, 300)
    max_rate = n / (time.monotonic() - began)
    rate = max_rate / 2

    samples: list[tuple[float, float, int]] = []  # (t, rss MB, lag)
    producer = asyncio.create_task(asyncio.to_thread(_produce, topic, env.bootstrap, rate, seconds, n, stop))
    t0 = time.monotonic()
    try:
        while not producer.done():
            samples.append((time.monotonic() - t0, rss_mb(worker.proc.pid), await _lag(settings, topic)))
            await asyncio.sleep(5.0 if not env.quick else 2.0)
        n += await producer
    finally:
        stop.set()
    await _drained(settings, topic, 120)
    samples.append((time.monotonic() - t0, rss_mb(worker.proc.pid), await _lag(settings, topic)))

    ends = await end_offsets(settings, [topic])
    done = await committed_offsets(settings)
    async with Observer(settings) as obs:
        await obs.pump(3.0)
    acc.events_in = sum(ends.values())
    acc.dead_lettered = len(obs.dead_letters)
    acc.processed = sum(min(done.get(tp, 0), end) for tp, end in ends.items()) - acc.dead_lettered
    acc.lost = acc.events_in - acc.processed - acc.dead_lettered
    # RSS "start" after a warm-up (the first fifth): caches, model and tables reach their size first
    warm = [s for s in samples if s[0] >= seconds / 5] or samples
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
    acc.detail = (
        f"max {max_rate:,.0f}/s (burst of {burst:,}), soak {rate:,.0f}/s for {seconds:.0f} s; "
        f"RSS {min(s[1] for s in samples):.0f}-{max(s[1] for s in samples):.0f} MB, max lag {max(lags)}; "
        f"{len(samples)} samples"
    )
    return acc
