"""Lab insights: per device type, the most used commands and the share of unknown ones (no broker)."""

from __future__ import annotations

import json
import uuid

from prometheus_client import CollectorRegistry

from schemas import LabInsight
from stream_processors.insights import LabWindows, unknown
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.commands import CommandPipeline
from stream_processors.pipelines.lab import LabFactsPipeline, LabInsightsPipeline
from stream_processors.records import Record

T0 = 1_764_580_000.0  # 2025-12-01T09:06:40Z

SESSIONS = {
    ("lab-1", "cisco_ios"): [
        "en",
        "conf t",
        "int gi0/1",
        "ip add 10.0.12.1 255.255.255.0",
        "no shut",
        "end",
        "shw ip int br",
        "sh ip int br",
    ],
    ("lab-2", "cisco_ios"): [
        "en",
        "conf t",
        "int gi0/2",
        "ip add 10.0.13.1 255.255.255.0",
        "ipconfig",
        "end",
        "sh ip int br",
    ],
    ("lab-3", "juniper_junos"): [
        "configure",
        "set interfaces ge-0/0/1 unit 0 family inet address 10.1.1.1/24",
        "commit",
        "shwo route",
    ],
    ("lab-4", "linux"): ["ip addr show", "ping -c 3 10.0.0.1", "ip addr show"],
}


def _records() -> list[Record]:
    out, offset = [], 0
    for (session, device), commands in SESSIONS.items():
        for seq, command in enumerate(commands):
            value = {
                "event_id": str(uuid.uuid4()),
                "anonymous_id": "k1-" + "cd" * 16,
                "session_id": session,
                "seq": seq,
                "device_type": device,
                "command": command,
            }
            out.append(
                Record("lab-events", 0, offset, session.encode(), json.dumps(value).encode(), T0 + offset)
            )
            offset += 1
    return out


def test_unknown_is_judged_by_the_platforms_vocabulary() -> None:
    assert [unknown("cisco_ios", c) for c in ("sh run", "shw run", "s", "exit", "ipconfig")] == [
        False,
        True,
        False,
        False,
        True,
    ]
    assert [unknown("juniper_junos", c) for c in ("show route", "set system", "shwo route")] == [
        False,
        False,
        True,
    ]
    assert unknown("linux", "ls -la") is None and unknown("cisco_ios", "") is None


def test_device_type_windows_from_categorised_commands() -> None:
    categorized = CommandPipeline("commands-categorized", {}, WorkerMetrics(CollectorRegistry())).process(
        _records()
    )
    cat_records = [
        Record("commands-categorized", 0, i, o.key.encode(), o.value, T0 + i)
        for i, o in enumerate(categorized.outputs)
    ]
    facts = LabFactsPipeline("lab-facts").process(cat_records)
    assert {o.key for o in facts.outputs} == {"cisco_ios", "juniper_junos", "linux"}
    fact_records = [Record("lab-facts", 0, i, o.key.encode(), o.value) for i, o in enumerate(facts.outputs)]
    windows: dict = {}
    out = LabInsightsPipeline("lab-insights", windows, LabWindows()).process(fact_records)
    got = {(i.device_type, i.window): i for i in (LabInsight.from_bytes(o.value) for o in out.outputs)}
    ios = got[("cisco_ios", "hour")]
    assert ios.commands == 15 and ios.unknown_commands == 2 and ios.unknown_share == 2 / 15
    top = {c.value: c.count for c in ios.top_commands}
    assert top["show ip interface brief"] == 2  # "sh ip int br" normalised
    assert top["ip address <n> <n>"] == 2  # two labs' addresses group
    assert top["interface GigabitEthernet0/<n>"] == 2
    junos = got[("juniper_junos", "day")]
    assert junos.commands == 4 and junos.unknown_commands == 1
    linux = got[("linux", "hour")]
    assert linux.unknown_share is None and {c.value: c.count for c in linux.top_commands}["ip addr show"] == 2
    # the same facts again change nothing
    assert LabInsightsPipeline("lab-insights", windows, LabWindows()).process(fact_records).outputs == []
