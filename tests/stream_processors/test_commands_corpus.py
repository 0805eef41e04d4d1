"""Replays hand-written lab sessions (tests/stream_processors/corpus/*.tsv) through interpret().

Each file is one session on one device: ``# device_type: …`` then a header and one line per
command with the expected normalized text, category and mode, written from how the real CLIs behave.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stream_processors.commands import DEVICE_TYPES, interpret

CORPUS = Path(__file__).parent / "corpus"


def _load(path: Path) -> tuple[str, list[tuple[int, list[str]]]]:
    device_type, rows = "", []
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if raw.startswith("# device_type:"):
            device_type = raw.split(":", 1)[1].strip()
        if not raw or raw.startswith("#") or raw.startswith("command\t"):
            continue
        fields = raw.split("\t")
        assert len(fields) == 4, f"{path.name}:{number}: expected 4 tab-separated fields"
        rows.append((number, fields))
    assert device_type in DEVICE_TYPES, path.name
    return device_type, rows


SESSIONS = sorted(CORPUS.glob("*.tsv"))


def test_corpus_is_big_and_covers_every_device_type() -> None:
    loaded = [_load(path) for path in SESSIONS]
    assert len(loaded) >= 12
    assert sum(len(rows) for _, rows in loaded) >= 200
    assert {device for device, _ in loaded} == set(DEVICE_TYPES)
    categories = {fields[2] for _, rows in loaded for _, fields in rows}
    assert categories == {"show", "debug", "routing", "config", "other"}


@pytest.mark.parametrize("path", SESSIONS, ids=[p.stem for p in SESSIONS])
def test_session_replays_as_expected(path: Path) -> None:
    device_type, rows = _load(path)
    state = None
    mismatches = []
    for number, (command, normalized, category, mode) in rows:
        result = interpret(state, device_type, command)
        got = (result.normalized, result.category, result.mode)
        if got != (normalized, category, mode):
            mismatches.append(
                f"{path.name}:{number} {command!r}: expected {(normalized, category, mode)}, got {got}"
            )
        state = json.loads(json.dumps(result.state))  # stored between events as JSON
    assert not mismatches, "\n".join(mismatches)
