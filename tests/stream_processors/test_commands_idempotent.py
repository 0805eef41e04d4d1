"""A session's CLI mode applies each command at most once (issue 14): duplicates, redeliveries and
late older ``seq`` get the answer they got the first time and leave the session's state alone."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas import CategorizedCommand
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.commands import HISTORY, CommandPipeline
from stream_processors.records import Record

CORPUS = Path(__file__).parent / "corpus"
ANON = "k1-" + "a" * 32


class JsonTable(MutableMapping[str, Any]):
    """A table that stores values as JSON, like the worker's changelog-backed one."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = json.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _pipeline(table: MutableMapping[str, Any] | None = None) -> CommandPipeline:
    return CommandPipeline("out", JsonTable() if table is None else table, WorkerMetrics(CollectorRegistry()))


def _event(session: str, seq: int, device_type: str, command: str, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": "lab_command",
            "anonymous_id": ANON,
            "session_id": session,
            "seq": seq,
            "device_type": device_type,
            "command": command,
        }
    ).encode()


def _corpus() -> list[tuple[str, list[tuple[bytes, tuple[str, str, str]]]]]:
    """Every corpus session as (session id, [(event bytes, expected (normalized, category, mode))])."""
    sessions = []
    for path in sorted(CORPUS.glob("*.tsv")):
        device_type, rows = "", []
        for raw in path.read_text(encoding="utf-8").split("\n"):
            if raw.startswith("# device_type:"):
                device_type = raw.split(":", 1)[1].strip()
            if not raw or raw.startswith("#") or raw.startswith("command\t"):
                continue
            command, normalized, category, mode = raw.split("\t")
            rows.append((command, (normalized, category, mode)))
        sid = f"sess-{path.stem}"
        sessions.append(
            (sid, [(_event(sid, seq, device_type, c), want) for seq, (c, want) in enumerate(rows)])
        )
    return sessions


def _run(pipeline: CommandPipeline, values: list[bytes], batch_sizes: list[int]) -> list[CategorizedCommand]:
    out, i, b = [], 0, 0
    while i < len(values):
        n = batch_sizes[b % len(batch_sizes)]
        records = [Record("lab-events", 0, i + j, b"k", v) for j, v in enumerate(values[i : i + n])]
        result = pipeline.process(records)
        assert not result.dead_letters
        out += [CategorizedCommand.model_validate_json(o.value) for o in result.outputs]
        i, b = i + n, b + 1
    return out


def test_corpus_replayed_twice_interleaved_gives_identical_outputs_and_state() -> None:
    sessions = _corpus()
    assert sum(len(rows) for _, rows in sessions) >= 200
    # the clean run: sessions interleaved round-robin, each in seq order
    clean_order = [
        rows[i][0] for i in range(max(len(r) for _, r in sessions)) for _, rows in sessions if i < len(rows)
    ]
    clean = _pipeline()
    first = {str(c.event_id): c for c in _run(clean, clean_order, [7])}
    expected = {json.loads(v)["event_id"]: want for _, rows in sessions for v, want in rows}
    assert {k: (c.normalized, c.category, c.mode) for k, c in first.items()} == expected
    # the replay: every record twice; each copy lands anywhere after the original (a redelivery, a
    # collector re-send or a dead-letter replay), in batches of every size
    rng = random.Random(14)
    for attempt in range(5):
        order = list(clean_order)
        for value in clean_order:
            at = order.index(value)
            order.insert(rng.randint(at + 1, len(order)), value)
        replayed = _pipeline()
        got = _run(replayed, order, [1, 3, 50, 2, 500][attempt:] + [1, 3, 50, 2, 500][:attempt])
        assert len(got) == 2 * len(clean_order)
        for c in got:
            assert c == first[str(c.event_id)], f"a repeated command got another answer (attempt {attempt})"
        for sid, _rows in sessions:
            a, b = replayed.sessions[sid], clean.sessions[sid]
            assert (a["modes"], a["priv"], a["seq"]) == (b["modes"], b["priv"], b["seq"])


def _categorized(pipeline: CommandPipeline, *values: bytes) -> list[tuple[int, str, str]]:
    records = [Record("lab-events", 0, i, b"s", v) for i, v in enumerate(values)]
    out = [CategorizedCommand.model_validate_json(o.value) for o in pipeline.process(records).outputs]
    return [(c.seq, c.normalized, c.mode) for c in out]


@pytest.mark.parametrize("same_batch", [True, False])
def test_a_duplicated_exit_pops_one_mode(same_batch: bool) -> None:
    p = _pipeline()
    lines = ["enable", "conf t", "interface gi0/1", "exit"]
    events = [_event("s", seq, "cisco_ios", c) for seq, c in enumerate(lines)]
    _categorized(p, *events)
    dup = _categorized(p, events[-1], events[-1]) if not same_batch else []
    nxt = _event("s", 4, "cisco_ios", "hostname r1")
    if same_batch:
        got = _categorized(p, events[-1], events[-1], nxt)
    else:
        got = dup + _categorized(p, nxt)
    assert got == [(3, "exit", "config-if"), (3, "exit", "config-if"), (4, "hostname r1", "config")]
    assert p.sessions["s"]["modes"] == ["config"]


def test_a_late_older_seq_is_answered_in_its_place_and_changes_nothing() -> None:
    p = _pipeline()
    lines = ["enable", "conf t", "router ospf 1", "exit", "interface gi0/1", "shutdown"]
    events = [_event("s", seq, "cisco_ios", c) for seq, c in enumerate(lines)]
    in_order = _categorized(_pipeline(), *events)
    late = events[3]  # "exit" arrives after seq 4 and 5
    got = _categorized(p, *events[:3], *events[4:], late)
    # seq 4 and 5 ran without the exit (router mode); the late exit is answered in the state that
    # seq 4 met (config-router), and does not pop the interface mode seq 4 entered
    assert got[-1] == (3, "exit", "config-router")
    assert in_order[3] == (3, "exit", "config-router")
    state = dict(p.sessions["s"])
    assert _categorized(p, late) == [got[-1]]  # asked again: the same answer
    assert p.sessions["s"] == state
    assert _categorized(p, _event("s", 6, "cisco_ios", "no shutdown")) == [(6, "no shutdown", "config-if")]


def test_history_is_bounded() -> None:
    p = _pipeline()
    _categorized(p, *[_event("s", seq, "cisco_ios", "show version") for seq in range(3 * HISTORY)])
    assert len(p.sessions["s"]["hist"]) == HISTORY
    assert p.sessions["s"]["seq"] == 3 * HISTORY - 1
