"""Valid traffic on all three input topics, with incidents whose alerts we know in advance.

- lab sessions typing commands (one output each on ``commands-categorized``);
- students submitting code (one output each on ``code-checks``); a quarter of them fail
  ``threshold`` times in a row on one exercise: one ``struggling_student`` alert each;
- devices reporting normal readings, then a burst of spikes: one ``network_anomaly``
  alert each (one incident window).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from foundation.settings import Settings
from tests.fixtures.metrics import SPIKE

NORMAL = {
    "packet_loss": 0.002,
    "latency_ms": 20.0,
    "bandwidth_utilization": 0.40,
    "connection_count": 100,
    "error_rate": 0.001,
}
COMMANDS = [
    (
        "cisco_ios",
        ["en", "conf t", "int gi0/1", "ip addr 10.0.0.1 255.255.255.0", "no shut", "end", "sh ip int br"],
    ),
    (
        "arista_eos",
        ["enable", "configure", "router ospf 1", "network 10.0.0.0/8 area 0", "exit", "show ip route"],
    ),
    ("juniper_junos", ["show interfaces terse", "configure", "set system host-name r1", "commit", "exit"]),
    ("linux", ["ip a", "ping -c1 10.0.0.1", "sudo systemctl restart frr", "traceroute 10.0.0.2"]),
]
GOOD_CODE = "from netmiko import ConnectHandler\n\ndef run(host):\n    return ConnectHandler(host=host)\n"
BAD_CODE = "def run(host:\n    return host\n"


@dataclass
class Workload:
    records: list[tuple[str, bytes | None, bytes | None, str | None]] = field(default_factory=list)
    incidents: dict[str, str] = field(default_factory=dict)  # event_id -> incident
    expected_alerts: int = 0


def _envelope(event_type: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "source": "chaos",
    }


def build(settings: Settings, *, scale: float = 1.0, threshold: int = 3) -> Workload:
    """About ``10_000 * scale`` events, interleaved across the three topics."""
    t = settings.topics
    start = datetime.now(UTC) - timedelta(hours=2)
    w = Workload()
    streams: list[list[tuple[str, bytes | None, bytes | None, str | None]]] = []

    n_sessions = max(4, int(300 * scale))
    for s in range(n_sessions):
        device_type, lines = COMMANDS[s % len(COMMANDS)]
        sid = f"chaos-sess-{s}"
        stream = []
        for seq in range(20):
            e = _envelope("lab_command", start + timedelta(seconds=seq))
            e |= {
                "anonymous_id": f"anon-{s % 97:04d}",
                "session_id": sid,
                "seq": seq,
                "device_type": device_type,
                "command": lines[seq % len(lines)],
            }
            stream.append((t.lab_events, sid.encode(), json.dumps(e).encode(), e["event_id"]))
        streams.append(stream)

    n_students = max(4, int(200 * scale))
    for st in range(n_students):
        anon = f"anon-student-{st:05d}"
        struggling = st % 4 == 0
        stream = []
        plan = ["ok"] * 3 + (["bad"] * threshold + ["ok"] if struggling else ["ok"] * (threshold + 1))
        plan += ["ok"] * (10 - len(plan))
        for i, kind in enumerate(plan):
            e = _envelope("code_submission", start + timedelta(seconds=10 * i))
            e |= {
                "anonymous_id": anon,
                "exercise_id": "ex-routing-1",
                "language": "python",
                "code": BAD_CODE if kind == "bad" else GOOD_CODE,
            }
            if kind == "bad":
                w.incidents[e["event_id"]] = f"struggling:{anon}"
            stream.append((t.student_events, anon.encode(), json.dumps(e).encode(), e["event_id"]))
        w.expected_alerts += struggling
        streams.append(stream)

    n_devices = max(3, int(40 * scale))
    for d in range(n_devices):
        device = f"chaos-router-{d}"
        stream = []
        for i in range(60):
            e = _envelope("network_metrics", start + timedelta(seconds=i))
            spike = 45 <= i < 48
            reading = dict(SPIKE if spike else NORMAL)
            if not spike:  # a little noise so the device's baseline has a spread
                reading["latency_ms"] += (i * 7 + d) % 5 * 0.5
                reading["connection_count"] += (i * 3 + d) % 9
            e |= {"device_id": device, **reading}
            if spike:
                w.incidents[e["event_id"]] = f"anomaly:{device}"
            stream.append((t.network_metrics, device.encode(), json.dumps(e).encode(), e["event_id"]))
        w.expected_alerts += 1
        streams.append(stream)

    # round-robin across streams: every stream keeps its order, topics interleave
    longest = max(len(s) for s in streams)
    for i in range(longest):
        for s in streams:
            if i < len(s):
                w.records.append(s[i])
    return w
