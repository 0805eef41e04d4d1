"""Event-to-alert latency of a running worker under a steady load.

Normal metric readings are produced at ``rate`` events/s; among them, every
``1 / probes_per_s`` seconds, a spike on a device never seen before (so it
alerts at once, no incident open). An aiokafka consumer on the alerts topic
stamps each alert's arrival; latency = arrival - the moment the spike was
handed to the producer (its ``send`` returned; linger included).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from itertools import cycle

from bench._feed import SPIKE
from schemas import NetworkMetrics


async def _produce(
    bootstrap: str,
    topic: str,
    pool: list[tuple[bytes, bytes]],
    rate: float,
    seconds: float,
    probes_per_s: float,
    sent: dict[str, float],
) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1, enable_idempotence=False)
    await producer.start()
    tick = 0.01
    source, n, t0 = cycle(pool), 0, time.perf_counter()
    next_probe = t0
    futures = []
    try:
        while (now := time.perf_counter()) - t0 < seconds:
            due = int((now - t0) * rate) - n
            for _ in range(max(0, due)):
                key, value = next(source)
                futures.append(await producer.send(topic, value, key=key))
                n += 1
            if now >= next_probe:
                ev = NetworkMetrics(device_id=f"latency-probe-{uuid.uuid4().hex[:12]}", **SPIKE)
                futures.append(await producer.send(topic, ev.to_bytes(), key=ev.device_id.encode()))
                sent[str(ev.event_id)] = time.perf_counter()
                next_probe += 1.0 / probes_per_s
            if len(futures) > 5000:
                await asyncio.gather(*futures)
                futures.clear()
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - now)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


async def _collect(
    bootstrap: str,
    topic: str,
    sent: dict[str, float],
    got: dict[str, float],
    stop: asyncio.Event,
    partitions: int,
) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # no group (no join delay, no probe missed) and a short fetch wait: the reader adds little latency
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for msgs in batches.values():
                for m in msgs:
                    for eid in json.loads(m.value).get("event_ids", []):
                        if eid in sent and eid not in got:
                            got[eid] = now - sent[eid]
    finally:
        await consumer.stop()


async def measure(
    bootstrap: str,
    topic: str,
    alerts_topic: str,
    pool: list[tuple[bytes, bytes]],
    rate: float,
    seconds: float = 15.0,
    probes_per_s: float = 20.0,
    partitions: int = 2,
) -> dict[str, float]:
    """p50/p99 (ms) of event-to-alert latency at ``rate`` events/s, and what was actually sent."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    stop = asyncio.Event()
    collector = asyncio.create_task(_collect(bootstrap, alerts_topic, sent, got, stop, partitions))
    await asyncio.sleep(3.0)  # let the alert consumer join its group before the first probe
    t0 = time.perf_counter()
    n = await _produce(bootstrap, topic, pool, rate, seconds, probes_per_s, sent)
    achieved = n / (time.perf_counter() - t0)
    deadline = time.perf_counter() + 30.0
    while len(got) < len(sent) and time.perf_counter() < deadline:  # noqa: ASYNC110 - polling a dict filled by a task
        await asyncio.sleep(0.1)
    stop.set()
    await collector
    lat = sorted(got.values())
    if not lat:
        raise RuntimeError("no alert arrived for any latency probe")

    def pct(p: float) -> float:
        return 1000.0 * lat[min(len(lat) - 1, int(p * len(lat)))]

    return {"p50": pct(0.50), "p99": pct(0.99), "probes": len(sent), "answered": len(got), "rate": achieved}
