"""The on-disk spool: order, bounds, restart and torn tails."""

from __future__ import annotations

import pytest

from producers import SpoolFullError, SpoolLockedError
from producers.spool import Spool


def _fill(spool: Spool, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        spool.append("t", None if i % 5 == 0 else f"k{i % 3}".encode(), f"v{i}".encode())


def test_order_across_segments_and_restart(tmp_path) -> None:
    with Spool(tmp_path, 1 << 20, segment_bytes=4096, fsync="never") as s:
        _fill(s, 1000)
        assert s.depth == 1000
        first = s.peek(300)
        assert [v for _, _, v in first][:2] == [b"v0", b"v1"] and first[0][1] is None and first[1][1] == b"k1"
        s.commit(300)
    assert len(list(tmp_path.glob("*.seg"))) > 1
    with Spool(tmp_path, 1 << 20, segment_bytes=4096) as s:
        assert s.depth == 700
        got = []
        while s.depth:
            batch = s.peek(128)
            got += [v for _, _, v in batch]
            s.commit(len(batch))
        assert got == [f"v{i}".encode() for i in range(300, 1000)]
        assert s.bytes == 0 and s.drained_total == 700
        _fill(s, 3, 1000)
        assert [v for _, _, v in s.peek(10)] == [b"v1000", b"v1001", b"v1002"]


def test_full_spool_raises_and_keeps_what_it_has(tmp_path) -> None:
    with Spool(tmp_path, 4096, fsync="never") as s:
        with pytest.raises(SpoolFullError):
            _fill(s, 10_000)
        depth = s.depth
        assert 0 < depth < 10_000 and s.bytes <= 4096
        assert len(s.peek(100_000)) == depth


def test_torn_tail_is_cut_and_lock_is_exclusive(tmp_path) -> None:
    with Spool(tmp_path, 1 << 20) as s:
        _fill(s, 10)
        with pytest.raises(SpoolLockedError):
            Spool(tmp_path, 1 << 20)
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    seg.write_bytes(seg.read_bytes() + b"\x00\x00\x01\x00garbage")
    with Spool(tmp_path, 1 << 20) as s:
        assert s.depth == 10
        assert [v for _, _, v in s.peek(20)][-1] == b"v9"
