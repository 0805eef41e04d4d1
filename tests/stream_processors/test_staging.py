from __future__ import annotations

import doctest

import stream_processors.staging as staging
from stream_processors.staging import StagedTable


class _CountingTable(dict):
    """A dict that counts writes, standing for a Faust table's changelog records."""

    writes = 0

    def __setitem__(self, key, value):
        type(self).writes += 1
        super().__setitem__(key, value)


def test_reads_see_staged_writes_and_the_table_sees_them_only_after_apply() -> None:
    table = _CountingTable({"old": 1})
    t = StagedTable(table)
    t["a"] = 1
    t["a"] = 2
    t["old"] = 3
    assert t["a"] == 2 and t.get("old") == 3 and t.get("missing") is None
    assert dict(table) == {"old": 1} and _CountingTable.writes == 0
    assert sorted(t) == ["a", "old"] and len(t) == 2
    t.apply()
    assert dict(table) == {"old": 3, "a": 2}
    assert _CountingTable.writes == 2  # one write per key, however often it changed
    assert t.staged == {}


def test_discard_drops_the_writes_of_a_failed_batch() -> None:
    table: dict[str, int] = {"k": 1}
    t = StagedTable(table)
    t["k"] = 99
    t.discard()
    assert t["k"] == 1 and table == {"k": 1}


def test_doctest() -> None:
    assert doctest.testmod(staging).failed == 0
