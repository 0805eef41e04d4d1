"""Collector throughput (scrub + pseudonym + publish) as a ratio to raw kafka-python in the same run,
and what durable acceptance costs (HTTP ingest and SDK, durable against fire-and-forget).

Both sides send the same N events to the same broker with the same producer
configuration (``producers.delivery.producer_config``); the baseline sends the
collector's own pre-serialised topic bytes, so the ratio is the cost of
pseudonymising, scrubbing and building the topic JSON. Rounds alternate raw and
collector; the best round of each side counts (five each: on a shared 2-core
machine one busy second elsewhere halves a round, and two rounds each left the
ratio at the mercy of which side it hit).

What durability costs: ``POST /v1/events`` served by uvicorn in this process, four client
threads posting batches of 1 and of 100 events, with the durable acceptance (202 once the
request's events are fsynced in the spool) against the old one (202 once they are in
kafka-python's buffer); and the SDK publishing one call at a time, ``Collector(durable=True)``
against the default, plus durable ``submit_many`` of 100. Each rate runs until every event is
on Kafka (flush, or the spool drained), so both sides count delivered events. The spool is in
a directory on the same disk as the working tree (fsync is real). Rounds alternate the two
sides; the best round of each counts, as above.

    python -m bench.collector            # starts an embedded broker
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from foundation.api_guard import install_api_guard
from foundation.settings import Settings, Topics
from labstream.broker import EmbeddedBroker, ensure_topics
from producers import Collector, validate_event
from producers.delivery import broker_supports_idempotence, producer_config
from producers.http import ingest_router
from schemas import CollectorEventT

N = 50_000
_COMMANDS = [
    ("cisco_ios", "show ip interface brief"),
    ("cisco_ios", "interface GigabitEthernet0/1"),
    ("cisco_ios", "ip address 10.0.12.1 255.255.255.0"),
    ("cisco_ios", "router ospf 1"),
    ("cisco_ios", "network 10.0.0.0 0.0.0.255 area 0"),
    ("cisco_ios", "enable secret Lab-s3cret"),
    ("arista_eos", "show interfaces status"),
    ("arista_eos", "username ops secret Pa55word"),
    ("cisco_nxos", "show vlan brief"),
    ("cisco_nxos", "feature ospf"),
    ("juniper_junos", "set interfaces ge-0/0/0 unit 0 family inet address 10.1.1.1/30"),
    ("juniper_junos", "show route"),
    ("linux", "ping -c 3 10.0.0.2"),
    ("linux", "ip -br addr"),
    ("linux", "sshpass -p hunter2 ssh admin@r1"),
]
_CODE = [
    "from netmiko import ConnectHandler\n\nr1 = ConnectHandler(device_type='cisco_ios', host='10.0.0.1',"
    " username='admin', password='cisco123')\nprint(r1.send_command('show version'))\n",
    "def parse(lines):\n    out = {}\n    for line in lines:\n        k, _, v = line.partition(':')\n"
    "        out[k.strip()] = v.strip()\n    return out\n",
    "import yaml\n\nwith open('inventory.yml') as f:\n    hosts = yaml.safe_load(f)\n"
    "for h in hosts:\n    print(h)\n",
]


def events(n: int = N, seed: int = 1) -> list[CollectorEventT]:
    """A realistic mix: 70% lab commands, 20% code, 10% device metrics."""
    rng = random.Random(seed)
    out: list[CollectorEventT] = []
    for i in range(n):
        r = rng.random()
        if r < 0.7:
            device, cmd = rng.choice(_COMMANDS)
            data: dict[str, Any] = {
                "event_type": "lab_command",
                "student_id": f"student-{i % 400}",
                "session_id": f"sess-{i % 97}",
                "seq": i,
                "device_type": device,
                "command": cmd,
            }
        elif r < 0.9:
            data = {
                "event_type": "code_submission",
                "student_id": f"student-{i % 400}",
                "exercise_id": f"ex-{i % 12}",
                "code": rng.choice(_CODE),
            }
        else:
            data = {
                "event_type": "network_metrics",
                "device_id": f"r{i % 40}",
                "packet_loss": rng.random() / 100,
                "latency_ms": rng.random() * 20,
                "bandwidth_utilization": rng.random(),
                "connection_count": rng.randint(0, 500),
                "error_rate": rng.random() / 50,
            }
        out.append(validate_event(data))
    return out


def _settings(bootstrap: str, tmp: Path) -> Settings:
    s = Settings(
        bootstrap_servers=bootstrap,
        pseudonym_key="bench-key-0123456789abcdef",
        data_dir=tmp / uuid.uuid4().hex,
    )
    s = s.with_topics(Topics.with_prefix(f"bench-{uuid.uuid4().hex[:8]}-"))
    ensure_topics(bootstrap, s.topics.inputs(), 2)
    return s


def _collector_rate(bootstrap: str, tmp: Path, evs: list[CollectorEventT]) -> float:
    with Collector(_settings(bootstrap, tmp), spool_fsync="never") as c:
        t0 = time.perf_counter()
        for e in evs:
            c.submit(e)
        c.flush()
        elapsed = time.perf_counter() - t0
        assert c.spool.appended_total == 0, "the benchmark must not spool"
    return len(evs) / elapsed


def _raw_rate(bootstrap: str, tmp: Path, evs: list[CollectorEventT]) -> float:
    s = _settings(bootstrap, tmp)
    with Collector(s, spool_fsync="never") as c:  # only to pre-serialise the very same records
        records = [c.encode(e) for e in evs]
    producer = KafkaProducer(**producer_config(s, broker_supports_idempotence(s.bootstrap_list)))
    try:
        t0 = time.perf_counter()
        for topic, key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush()
        return len(records) / (time.perf_counter() - t0)
    finally:
        producer.close()


ROUNDS = 5
DURABLE_ROUNDS = 3
HTTP_THREADS = 4


def _raw_events(n: int, seed: int = 2) -> list[dict[str, Any]]:
    """The JSON bodies of :func:`events` (with their event ids), for the HTTP benchmark."""
    return [json.loads(e.model_dump_json()) for e in events(n, seed)]


def _deliver(c: Collector) -> None:
    """Until every event taken is on Kafka (both modes)."""
    c.flush()
    if not c.wait_drained(300):
        raise RuntimeError(f"spool not drained ({c.spool.depth} left)")


def _http_rate(bootstrap: str, tmp: Path, bodies: list[bytes], n_events: int, durable: bool) -> float:
    import httpx
    import uvicorn
    from fastapi import FastAPI

    from labstream.broker import free_port

    token = "bench-token-" + "b" * 24
    s = _settings(bootstrap, tmp).model_copy(
        update={"api_tokens": [token], "api_rate_limit_per_minute": 10_000_000}
    )
    with Collector(s, spool_fsync="never") as c:
        # the guard as `labstream api` installs it: the ingest route needs its credentials
        app = FastAPI()
        app.include_router(ingest_router(s, c, durable=durable))
        install_api_guard(app, s)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        errors: list[int] = []

        def post(part: list[bytes]) -> None:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
                for body in part:
                    r = client.post("/v1/events", content=body)
                    if r.status_code != 202:
                        errors.append(r.status_code)

        try:
            t0 = time.perf_counter()
            workers = [
                threading.Thread(target=post, args=(bodies[i::HTTP_THREADS],)) for i in range(HTTP_THREADS)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            _deliver(c)
            elapsed = time.perf_counter() - t0
        finally:
            server.should_exit = True
            thread.join(10)
        if errors:
            raise RuntimeError(f"HTTP benchmark got {len(errors)} non-202 answers: {sorted(set(errors))}")
        return n_events / elapsed


def _sdk_rate(bootstrap: str, tmp: Path, evs: list[CollectorEventT], mode: str) -> float:
    with Collector(_settings(bootstrap, tmp), spool_fsync="never", durable=mode != "fire-and-forget") as c:
        t0 = time.perf_counter()
        if mode == "durable batches of 100":
            for i in range(0, len(evs), 100):
                c.submit_many(evs[i : i + 100])
        else:
            for e in evs:
                c.submit(e)
        _deliver(c)
        return len(evs) / (time.perf_counter() - t0)


def _best_of(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):
        for name, f in sides.items():
            out[name].append(f())
    return out


def _ratio_row(name: str, got: dict[str, list[float]], num: str, den: str, what: str) -> dict[str, Any]:
    a, b = max(got[num]), max(got[den])
    return {
        "name": name,
        "value": round(a / b, 3),
        "unit": "ratio",
        "target": "",
        "detail": f"{what}, best of {len(got[num])} rounds: {num} {a:,.0f}/s vs {den} {b:,.0f}/s"
        f" (rounds: {num} {', '.join(f'{x:,.0f}' for x in got[num])};"
        f" {den} {', '.join(f'{x:,.0f}' for x in got[den])})",
    }


def durability_rows(bootstrap: str, tmp: Path, rounds: int = DURABLE_ROUNDS) -> list[dict[str, Any]]:
    """HTTP ingest (batches of 1 and 100) and SDK publish: durable / fire-and-forget, one run."""
    rows = []
    raw = _raw_events(20_000)
    for batch, n in ((1, 3_000), (100, 20_000)):
        bodies = [json.dumps(raw[i : i + batch]).encode() for i in range(0, n, batch)]
        got = _best_of(
            rounds,
            {
                "durable": lambda b=bodies, n=n: _http_rate(bootstrap, tmp, b, n, True),
                "fire-and-forget": lambda b=bodies, n=n: _http_rate(bootstrap, tmp, b, n, False),
            },
        )
        what = f"POST /v1/events, {n} events in batches of {batch}, {HTTP_THREADS} client threads"
        rows.append(
            _ratio_row(
                f"HTTP ingest batch {batch}: durable / fire-and-forget",
                got,
                "durable",
                "fire-and-forget",
                what,
            )
        )
    evs = events(5_000, seed=3)
    got = _best_of(
        rounds,
        {
            "durable": lambda: _sdk_rate(bootstrap, tmp, evs, "durable"),
            "durable batches of 100": lambda: _sdk_rate(bootstrap, tmp, evs, "durable batches of 100"),
            "fire-and-forget": lambda: _sdk_rate(bootstrap, tmp, evs, "fire-and-forget"),
        },
    )
    what = f"SDK, {len(evs)} events, one thread"
    rows.append(
        _ratio_row("SDK publish per call: durable / fire-and-forget", got, "durable", "fire-and-forget", what)
    )
    rows.append(
        _ratio_row(
            "SDK submit_many(100): durable / fire-and-forget per call",
            got,
            "durable batches of 100",
            "fire-and-forget",
            what,
        )
    )
    return rows


def run(bootstrap: str, n: int = N, rounds: int = ROUNDS) -> list[dict[str, Any]]:
    """Rows for ``make bench``: the collector/raw ratio (target >= 0.7), and durability's cost."""
    evs = events(n)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        raw, col = [], []
        for _ in range(rounds):
            raw.append(_raw_rate(bootstrap, tmp, evs))
            col.append(_collector_rate(bootstrap, tmp, evs))
    # the spool of the durability rows on the working tree's disk, not a tmpfs: fsync is real
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-spool-") as d:
        durable = durability_rows(bootstrap, Path(d))
    r, c = max(raw), max(col)
    return [
        {
            "name": "collector publish (scrub+pseudonym) / kafka-python raw send",
            "value": round(c / r, 3),
            "unit": "ratio",
            "target": ">= 0.7",
            "detail": f"{n} events, best of {rounds} rounds each: {c:,.0f}/s vs {r:,.0f}/s"
            f" (rounds: collector {', '.join(f'{x:,.0f}' for x in col)};"
            f" raw {', '.join(f'{x:,.0f}' for x in raw)})",
        },
        *durable,
    ]


if __name__ == "__main__":
    with EmbeddedBroker() as broker:
        for row in run(broker.bootstrap, int(sys.argv[1]) if len(sys.argv) > 1 else N):
            print(row)
