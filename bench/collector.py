"""Collector throughput (scrub + pseudonym + publish) as a ratio to raw kafka-python in the same run.

Both sides send the same N events to the same broker with the same producer
configuration (``producers.delivery.producer_config``); the baseline sends the
collector's own pre-serialised topic bytes, so the ratio is the cost of
pseudonymising, scrubbing and building the topic JSON. Rounds alternate raw and
collector; the best round of each side counts (five each: on a shared 2-core
machine one busy second elsewhere halves a round, and two rounds each left the
ratio at the mercy of which side it hit).

    python -m bench.collector            # starts an embedded broker
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from labstream.broker import EmbeddedBroker, ensure_topics
from labstream.settings import Settings, Topics
from producers import Collector, validate_event
from producers.delivery import broker_supports_idempotence, producer_config
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


def run(bootstrap: str, n: int = N, rounds: int = ROUNDS) -> list[dict[str, Any]]:
    """Rows for ``make bench``: the collector/raw ratio (target >= 0.7)."""
    evs = events(n)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        raw, col = [], []
        for _ in range(rounds):
            raw.append(_raw_rate(bootstrap, tmp, evs))
            col.append(_collector_rate(bootstrap, tmp, evs))
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
        }
    ]


if __name__ == "__main__":
    with EmbeddedBroker() as broker:
        for row in run(broker.bootstrap, int(sys.argv[1]) if len(sys.argv) > 1 else N):
            print(row)
