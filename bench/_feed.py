"""Topic data for the pipeline benchmark: event values, fast pre-filling, raw aiokafka draining.

Values are real schema-valid events (pydantic models serialised as the
collector does), keyed as the collector keys them, so the worker's pipelines
do their normal work on them. Metric readings come from the detector's
synthetic normal traffic, so alerts stay rare as on a healthy lab.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from itertools import cycle, islice

from schemas import CodeSubmission, LabCommand, NetworkMetrics

_POOL = 20_000
_COMMANDS = [
    (
        "cisco_ios",
        [
            "enable",
            "conf t",
            "router ospf 1",
            "network 10.0.0.0 0.0.0.255 area 0",
            "int gi0/1",
            "ip addr 10.0.0.1 255.255.255.0",
            "no shut",
            "end",
            "sh ip int br",
            "wr mem",
        ],
    ),
    (
        "juniper_junos",
        [
            "configure",
            "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24",
            "commit",
            "exit",
            "show interfaces terse",
        ],
    ),
    ("linux", ["ip addr show", "ping -c 3 10.0.0.1", "sudo systemctl restart frr", "vtysh"]),
]


def metric_values(n_devices: int = 500) -> list[tuple[bytes, bytes]]:
    """A pool of (key, value) network-metrics events over ``n_devices`` devices."""
    from detector import synthetic_normal_traffic

    rows, ids, _ = synthetic_normal_traffic(n_devices=n_devices, minutes=_POOL // n_devices + 1, seed=11)
    out = []
    for row, dev in islice(zip(rows, ids, strict=True), _POOL):
        pl, lat, bw, conn, err = (float(x) for x in row)
        ev = NetworkMetrics(
            device_id=dev,
            packet_loss=min(max(pl, 0.0), 1.0),
            latency_ms=max(lat, 0.0),
            bandwidth_utilization=min(max(bw, 0.0), 1.0),
            connection_count=max(int(conn), 0),
            error_rate=max(err, 0.0),
        )
        out.append((dev.encode(), ev.to_bytes()))
    return out


SPIKE = dict(
    packet_loss=0.35, latency_ms=900.0, bandwidth_utilization=0.99, connection_count=5000, error_rate=0.6
)


def with_spikes(
    pool: list[tuple[bytes, bytes]], every: int = 997, after: int = 2500
) -> list[tuple[bytes, bytes]]:
    """``pool`` with every ``every``-th event from index ``after`` on replaced by a spike of the same device.

    ``after`` keeps the spikes past each device's first readings (500 devices: 5 readings each), so
    both a worker and a peer judge them against the device's own baseline; the alerts they write
    can then be compared (a pool of normal traffic alone gives none at today's false-alert rate).
    The pool's readings share one event time, so a device's spikes are one incident: ``every`` is
    prime to the 500 devices, each spike lands on another device (18 incidents in the 20,000-event pool).
    """
    out = list(pool)
    for i in range(after, len(out), every):
        key, value = out[i]
        ev = NetworkMetrics.model_validate_json(value)
        out[i] = (key, ev.model_copy(update=SPIKE).to_bytes())
    return out


def command_values(n_sessions: int = 200) -> list[tuple[bytes, bytes]]:
    """Lab commands: each session replays one vendor's session script in order."""
    out = []
    per_session = _POOL // n_sessions
    for s in range(n_sessions):
        device, script = _COMMANDS[s % len(_COMMANDS)]
        sid = f"bench-session-{s}"
        for seq, cmd in enumerate(islice(cycle(script), per_session)):
            ev = LabCommand(
                anonymous_id=f"k1-{s:016x}",
                session_id=sid,
                seq=seq,
                device_type=device,  # type: ignore[arg-type]
                command=cmd,
            )
            out.append((sid.encode(), ev.to_bytes()))
    return out


def code_values(n_students: int = 200, size: int = 2048) -> list[tuple[bytes, bytes]]:
    """~2 KB Python submissions; every tenth has a syntax error."""
    body = "".join(
        f"def step_{i}(device):\n    return device.send_command('show run | inc {i}')\n\n" for i in range(40)
    )
    out = []
    for i in range(2000):
        code = f"import json\nfrom netmiko import ConnectHandler\n# attempt {i}\n{body}"[:size]
        if i % 10 == 0:
            code = code[: size - 20] + "\nif x = 1:\n    pass\n"
        aid = f"k1-{i % n_students:016x}"
        ev = CodeSubmission(anonymous_id=aid, exercise_id=f"ex-{i % 7}", language="python", code=code)
        out.append((aid.encode(), ev.to_bytes()))
    return out


def take(pool: list[tuple[bytes, bytes]], n: int) -> Iterator[tuple[bytes, bytes]]:
    return islice(cycle(pool), n)


async def produce(bootstrap: str, topic: str, items: Iterator[tuple[bytes, bytes]]) -> int:
    """Send every item as fast as the broker takes them; returns how many were sent."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=512 * 1024, acks=1, enable_idempotence=False
    )
    await producer.start()
    n = 0
    try:
        pending = []
        for key, value in items:
            pending.append(await producer.send(topic, value, key=key))
            n += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n


async def raw_drain(bootstrap: str, topic: str, n: int, wait_s: float = 300.0) -> float:
    """events/s of a plain aiokafka consumer group reading ``n`` events and decoding each value's JSON."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    seen, t0 = 0, None
    loads = json.loads
    try:
        deadline = time.monotonic() + wait_s
        while seen < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for msgs in batches.values():
                if t0 is None:
                    t0 = time.perf_counter()
                for m in msgs:
                    loads(m.value)
                seen += len(msgs)
        elapsed = time.perf_counter() - (t0 or time.perf_counter())
    finally:
        await consumer.stop()
    if seen < n:
        raise RuntimeError(f"raw consumer read {seen} of {n} events")
    return seen / elapsed
