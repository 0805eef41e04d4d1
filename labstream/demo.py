"""Demo traffic: students submitting code, lab sessions typing commands, devices reporting metrics.

Everything here is synthetic and says so. Incidents are injected on a
schedule so that ``labstream up`` shows real alerts within a minute:
a latency spike, a packet-loss burst, an error storm, and a student who keeps
failing the same exercise. A few malformed events show the dead-letter path.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detector.synthetic import DeviceProfiles, normal_metrics

_GOOD_CODE = [
    "from netmiko import ConnectHandler\n\ndev = {'device_type': 'cisco_ios', 'host': '10.0.0.1'}\n"
    "with ConnectHandler(**dev) as conn:\n    print(conn.send_command('show ip int brief'))\n",
    "import ipaddress\n\nnet = ipaddress.ip_network('10.1.0.0/24')\n"
    "print([str(h) for h in net.hosts()][:5])\n",
    "import yaml\nfrom jinja2 import Template\n\nvlans = yaml.safe_load(open('vlans.yml'))\n"
    "print(Template('vlan {{ id }}').render(id=vlans[0]))\n",
]
_BAD_CODE = [
    "for intf in interfaces\n    print(intf)\n",
    "def configure(dev:\n    return dev\n",
    "import napalm\ndriver = napalm.get_network_driver('ios'\n",
]
_YAML = (
    "- hosts: routers\n  tasks:\n    - name: show version\n"
    "      ios_command:\n        commands: show version\n"
)
_SESSIONS: dict[str, list[str]] = {
    "cisco_ios": [
        "en",
        "conf t",
        "hostname R1",
        "int gi0/1",
        "ip add 10.0.12.1 255.255.255.0",
        "no shut",
        "exit",
        "router ospf 1",
        "network 10.0.12.0 0.0.0.255 area 0",
        "end",
        "sh ip ospf nei",
        "wr mem",
        "enable secret Sup3rS3cret!",
    ],
    "arista_eos": ["enable", "configure", "interface Ethernet1", "switchport mode trunk", "end", "sh vlan"],
    "juniper_junos": [
        "configure",
        "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/30",
        "set protocols ospf area 0 interface ge-0/0/0",
        "commit",
        "exit",
        "show ospf neighbor",
    ],
    "linux": [
        "ip addr show",
        "ping -c 3 10.0.0.2",
        "traceroute 10.0.0.2",
        "ip route add 10.9.0.0/16 via 10.0.0.2",
    ],
    "cisco_nxos": ["conf t", "feature ospf", "router ospf 10", "router-id 1.1.1.1", "end", "sh run ospf"],
}


_CYCLE_S = 120.0  # the incident schedule repeats every two minutes
# (device index, start s, end s, what changes): a latency spike, a packet-loss burst, an error storm
_INCIDENTS = (
    (1, 25.0, 33.0, "latency"),
    (4, 35.0, 43.0, "loss"),
    (6, 45.0, 53.0, "errors"),
)


@dataclass
class DemoTraffic:
    """Drives a collector with demo events at ``rate`` events/s until stopped."""

    collector: Any
    rate: float = 200.0
    seed: int = 7
    raw_producer: Any = None  # kafka-python producer for the few malformed events
    settings: Any = None
    published: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # The lab's devices are the SYNTHETIC lab the default model was trained on (same generator, seed 42),
        # so the demo shows incidents, not drift between two made-up worlds.
        self.np_rng = np.random.default_rng(self.seed)
        self.profiles = DeviceProfiles.draw(50, np.random.default_rng(42))
        self.device_ids = [f"lab-r{i:02d}" for i in range(1, 51)]
        self.next_device = 0
        self.students = [f"student-{i:03d}@school.example" for i in range(40)]
        self.sessions: dict[str, tuple[str, str, int]] = {}

    def incident(self, device: int, t: float) -> dict[str, float] | None:
        """The scripted incidents, by seconds into the current two-minute cycle."""
        c = t % _CYCLE_S
        for dev, start, end, kind in _INCIDENTS:
            if dev == device and start <= c < end:
                if kind == "latency":
                    return {"latency_ms": float(self.profiles.latency[dev]) * 6 + 120.0}
                if kind == "loss":
                    return {"packet_loss": 0.25}
                return {"error_rate": 0.4}
        return None

    def metrics_event(self, t: float) -> None:
        d = self.next_device  # devices poll round-robin, like a poller would
        self.next_device = (d + 1) % len(self.device_ids)
        row = normal_metrics(self.profiles, np.array([d]), np.array([t]), self.np_rng)[0]
        m: dict[str, Any] = {
            "packet_loss": float(row[0]),
            "latency_ms": float(row[1]),
            "bandwidth_utilization": float(row[2]),
            "connection_count": int(row[3]),
            "error_rate": float(row[4]),
        }
        m.update(self.incident(d, t) or {})
        self.collector.track_network_metrics(self.device_ids[d], **m)
        self.published["network-metrics"] += 1

    def command_event(self) -> None:
        student = self.rng.choice(self.students)
        device_type = self.rng.choice(list(_SESSIONS))
        key = f"{student}/{device_type}"
        session_id, _, seq = self.sessions.get(key, (f"lab-{len(self.sessions):04d}", device_type, 0))
        script = _SESSIONS[device_type]
        command = script[seq % len(script)]
        self.collector.track_lab_command(student, session_id, seq, command, device_type)
        self.sessions[key] = (session_id, device_type, seq + 1)
        self.published["lab-events"] += 1

    def code_event(self, t: float) -> None:
        if 10 <= t % _CYCLE_S < 16 and self.rng.random() < 0.5:
            # a student stuck on one exercise: several failures in a row
            student, exercise, code, lang = self.students[0], "ex-03-loops", _BAD_CODE[0], "python"
        else:
            student = self.rng.choice(self.students[1:])
            exercise = f"ex-{self.rng.randint(1, 12):02d}"
            r = self.rng.random()
            code, lang = (
                (self.rng.choice(_BAD_CODE), "python")
                if r < 0.06
                else (_YAML, "yaml")
                if r < 0.16
                else (self.rng.choice(_GOOD_CODE), "python")
            )
        self.collector.track_code_submission(student, code, exercise, lang)
        self.published["student-events"] += 1

    def malformed_event(self) -> None:
        if self.raw_producer is None or self.settings is None:
            return
        topics = self.settings.topics
        topic = self.rng.choice(topics.inputs())
        value = self.rng.choice([b"{not json", b"\xff\xfe\x00", b'{"event_type": "network_metrics"}'])
        self.raw_producer.send(topic, value=value, key=b"demo-malformed")
        self.published[f"{topic} (malformed)"] += 1

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        start = time.monotonic()
        interval = 1.0 / self.rate
        next_at = start
        i = 0
        while not stop.is_set():
            t = time.monotonic() - start
            if duration is not None and t >= duration:
                break
            r = self.rng.random()
            if r < 0.55:
                self.metrics_event(t)
            elif r < 0.85:
                self.command_event()
            else:
                self.code_event(t)
            i += 1
            if i % 500 == 0:
                self.malformed_event()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                stop.wait(delay)
