"""The spool survives damage: failed writes, flipped bytes, torn tails, bad cursors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from producers import SpoolError, SpoolWriteError
from producers import spool as spool_mod
from producers.spool import Spool, _scan


def _fill(spool: Spool, n: int, start: int = 0, size: int = 0) -> list[bytes]:
    values = []
    for i in range(start, start + n):
        v = f"v{i}-".encode() + b"x" * (size or i % 37)
        spool.append("lab-events", None if i % 5 == 0 else f"k{i % 3}".encode(), v)
        values.append(v)
    return values


def _drain(spool: Spool) -> list[bytes]:
    got: list[bytes] = []
    for _ in range(10_000):  # a stall fails the test instead of hanging it
        if not spool.depth:
            return got
        batch = spool.peek(64)
        if not batch:  # damage found while reading took the last records with it
            assert spool.depth == 0, f"the drain stalled with depth {spool.depth}"
            return got
        got += [v for _, _, v in batch]
        spool.commit(len(batch))
    raise AssertionError("the drain did not end")


def _segments(d: Path) -> list[Path]:
    return sorted(d.glob("*.seg"))


def test_short_write_is_an_error_and_keeps_the_records_around_it(tmp_path, monkeypatch) -> None:
    real_write = os.write
    calls = {"n": 0}

    def short_once(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the next record: half of it reaches the file, then the disk is full
            return real_write(fd, bytes(data)[: len(data) // 2])
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    with Spool(tmp_path, 1 << 20, fsync="never") as s:
        before = _fill(s, 10)
        monkeypatch.setattr(spool_mod.os, "write", short_once)
        with pytest.raises(SpoolWriteError) as info:
            s.append("lab-events", b"k", b"refused")
        assert info.value.retriable and isinstance(info.value, SpoolError)
        assert s.depth == 10
        after = _fill(s, 10, start=10)  # room again: appends go on, nothing stalls
        assert _drain(s) == before + after
        more = _fill(s, 5, start=20)
    monkeypatch.setattr(spool_mod.os, "write", real_write)
    with Spool(tmp_path, 1 << 20) as s:  # reopening cuts nothing valid
        assert _drain(s) == more


_FSIZE_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from producers import SpoolWriteError
    from producers.spool import Spool
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, like a full disk
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    s = Spool(Path(sys.argv[1]), 1 << 20, fsync="always")
    ok, refused = 0, 0
    for i in range(1000):
        try:
            s.append("t", None, b"v%d-" % i + b"y" * 90)
            ok += 1
        except SpoolWriteError as e:
            assert e.retriable
            refused += 1
            if refused == 3:
                break
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # the disk has room again
    for i in range(1000, 1010):
        s.append("t", None, b"v%d-" % i + b"y" * 90)
        ok += 1
    print(ok, refused, flush=True)
    # no close: the process just ends, like a crash
""")


def test_file_size_limit_efbig_is_an_error_then_appends_resume(tmp_path) -> None:
    """ENOSPC's twin: RLIMIT_FSIZE makes the kernel cut a write short, then refuse with EFBIG."""
    out = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ok, refused = (int(x) for x in out.stdout.split())
    assert refused == 3 and ok > 10
    with Spool(tmp_path, 1 << 20) as s:
        got = _drain(s)
    assert len(got) == ok  # every append that returned is there, and nothing else
    numbers = [int(v.split(b"-")[0][1:]) for v in got]
    assert numbers == sorted(numbers) and numbers[-10:] == list(range(1000, 1010))
    assert numbers[: ok - 10] == list(range(ok - 10))


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    n=st.integers(min_value=1, max_value=60),
    seg_pick=st.integers(min_value=0, max_value=10_000),
    pos_pick=st.integers(min_value=0, max_value=1 << 30),
    xor=st.integers(min_value=1, max_value=255),
    reopen=st.booleans(),
    size=st.integers(min_value=0, max_value=300),
)
def test_one_flipped_byte_loses_at_most_the_record_it_hit(
    n: int, seg_pick: int, pos_pick: int, xor: int, reopen: bool, size: int
) -> None:
    """Segments of 4 KiB: up to 60 records of up to ~320 bytes span several, and any can be hit."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        corrupt: list[int] = []
        s = Spool(root, 1 << 20, fsync="never", segment_bytes=4096, on_corrupt=corrupt.append)
        values = _fill(s, n, size=size)
        segs = [p for p in _segments(root) if p.stat().st_size]
        seg = segs[seg_pick % len(segs)]
        data = bytearray(seg.read_bytes())
        pos = pos_pick % len(data)
        start = 0  # which record the byte belongs to
        hit = None
        for end, payload in _scan(bytes(data)).frames:
            if start <= pos < end:
                hit = spool_mod._decode(payload)[2]
            start = end
        assert hit is not None
        data[pos] ^= xor
        seg.write_bytes(bytes(data))
        if reopen:
            s.close()
            s = Spool(root, 1 << 20, fsync="never", segment_bytes=4096, on_corrupt=corrupt.append)
        try:
            got = _drain(s)
            assert got == [v for v in values if v != hit]
            assert sum(corrupt) <= 1 and s.corrupt_total == sum(corrupt)
            assert s.depth == 0
            later = _fill(s, 3, start=1000)
            assert _drain(s) == later
        finally:
            s.close()


def test_truncated_tail_keeps_every_whole_record(tmp_path, caplog) -> None:
    with Spool(tmp_path, 1 << 20, fsync="never") as s:
        values = _fill(s, 20, size=50)
    seg = _segments(tmp_path)[-1]
    size = seg.stat().st_size
    os.truncate(seg, size - 30)  # the last record cut in the middle (a crash during its append)
    with caplog.at_level(logging.WARNING, logger="producers.spool"), Spool(tmp_path, 1 << 20) as s:
        assert s.depth == 19 and s.corrupt_total == 0
        later = _fill(s, 2, start=100)
        assert _drain(s) == values[:19] + later
    assert "crash during an append" in caplog.text


@pytest.mark.parametrize("cursor", ["garbage\n", "", "7\n", "99999999 0\n", "OFFSET", b"\xff\xfe\x00"])
def test_garbage_cursor_redelivers_from_the_oldest_record(tmp_path, caplog, cursor) -> None:
    with Spool(tmp_path, 1 << 20, fsync="never", segment_bytes=4096) as s:
        values = _fill(s, 200)
        s.commit(len(s.peek(30)))  # drained a little: the real cursor is past record 30
    path = tmp_path / "cursor"
    if isinstance(cursor, bytes):
        path.write_bytes(cursor)
    else:
        path.write_text(cursor)
    with caplog.at_level(logging.WARNING, logger="producers.spool"), Spool(tmp_path, 1 << 20) as s:
        got = _drain(s)
    assert got == values[len(values) - len(got) :] and len(got) >= 170  # nothing skipped
    assert "cursor" in caplog.text


def test_cursor_off_a_record_boundary_or_missing_redelivers(tmp_path, caplog) -> None:
    with Spool(tmp_path, 1 << 20, fsync="never") as s:
        values = _fill(s, 50, size=20)
        s.commit(len(s.peek(10)))
    seq = int((tmp_path / "cursor").read_text().split()[0])
    (tmp_path / "cursor").write_text(f"{seq} 17\n")  # inside the first record
    with caplog.at_level(logging.WARNING, logger="producers.spool"), Spool(tmp_path, 1 << 20) as s:
        assert _drain(s) == values  # redelivered from the segment's start, not skipped
        more = _fill(s, 5, start=50)
    assert "not a record boundary" in caplog.text
    (tmp_path / "cursor").unlink()
    with Spool(tmp_path, 1 << 20) as s:
        assert _drain(s)[-5:] == more


def test_damage_seen_while_running_does_not_stall_the_drain(tmp_path) -> None:
    with Spool(tmp_path, 1 << 20, fsync="never") as s:
        values = _fill(s, 30, size=40)
        seg = _segments(tmp_path)[-1]
        data = bytearray(seg.read_bytes())
        data[len(data) // 2] ^= 0xFF  # the disk changed under the running spool
        seg.write_bytes(bytes(data))
        got = _drain(s)
        assert len(got) == 29 and s.corrupt_total == 1
        assert got == [v for v in values if v in got]
