"""A durable, bounded, in-order on-disk spool for events Kafka could not take.

Append-only segment files ``<seq>.seg``; each record is framed as
``len:u32 | crc32:u32 | payload`` with payload ``topic_len:u16 | topic |
key_len:i32 (-1: none) | key | value``. A ``cursor`` file (written atomically)
says how far the head has been drained. A torn tail (crash mid-append) is cut
off at open. A full spool raises :class:`SpoolFullError`; nothing is dropped.

>>> import tempfile, pathlib
>>> with Spool(pathlib.Path(tempfile.mkdtemp()), 1 << 20) as s:
...     s.append("lab-events", b"sess-1", b"{}")
...     s.peek(10), s.depth
([('lab-events', b'sess-1', b'{}')], 1)
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from pathlib import Path
from types import TracebackType
from typing import Literal

from producers.exceptions import SpoolFullError, SpoolLockedError

__all__ = ["FsyncPolicy", "Record", "Spool"]

log = logging.getLogger(__name__)

Record = tuple[str, bytes | None, bytes]
FsyncPolicy = Literal["always", "interval", "never"]
_HEAD = struct.Struct(">II")
_TOPIC = struct.Struct(">H")
_KEY = struct.Struct(">i")
_CHUNK = 4 * 1024 * 1024


def _encode(topic: str, key: bytes | None, value: bytes) -> bytes:
    t = topic.encode("utf-8")
    payload = b"".join(
        (_TOPIC.pack(len(t)), t, _KEY.pack(-1 if key is None else len(key)), key or b"", value)
    )
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Record:
    (tl,) = _TOPIC.unpack_from(payload, 0)
    topic = payload[2 : 2 + tl].decode("utf-8")
    (kl,) = _KEY.unpack_from(payload, 2 + tl)
    at = 6 + tl
    key = None if kl < 0 else payload[at : at + kl]
    return topic, key, payload[at + max(kl, 0) :]


def _frames(data: bytes, offset: int = 0) -> tuple[list[tuple[int, bytes]], int]:
    """Valid frames from ``offset`` as (end offset, payload), and where valid data ends."""
    out: list[tuple[int, bytes]] = []
    while offset + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, offset)
        end = offset + _HEAD.size + length
        payload = data[offset + _HEAD.size : end]
        if end > len(data) or zlib.crc32(payload) != crc:
            break
        out.append((end, payload))
        offset = end
    return out, offset


class Spool:
    """Segment files in ``directory``, bounded by ``max_bytes``, one process at a time (flock)."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        *,
        fsync: FsyncPolicy = "interval",
        fsync_interval_s: float = 0.2,
        segment_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes, self.fsync, self.fsync_interval_s = max_bytes, fsync, fsync_interval_s
        self.segment_bytes = min(segment_bytes, max(max_bytes // 4, 4096))
        self._lock = threading.Lock()
        self._lockfd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lockfd)
            raise SpoolLockedError(f"spool {self.dir} is used by another collector process") from None
        self.appended_total = 0
        self.drained_total = 0
        self._last_sync = time.monotonic()
        self._recover()

    # --- opening -------------------------------------------------------------
    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob("*.seg"))

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:020d}.seg"

    def _recover(self) -> None:
        cursor = self.dir / "cursor"
        head_seq, head_off = (int(x) for x in cursor.read_text().split()) if cursor.exists() else (0, 0)
        self.depth = self.bytes = 0
        segments = [s for s in self._segments() if s >= head_seq]
        for seq in self._segments():
            if seq < head_seq:
                self._path(seq).unlink()
        for i, seq in enumerate(segments):
            data = self._path(seq).read_bytes()
            start = head_off if seq == head_seq else 0
            frames, valid_end = _frames(data, start)
            if valid_end < len(data):
                if i == len(segments) - 1:
                    log.warning(
                        "spool: cutting a torn tail of %d bytes (crash during append)", len(data) - valid_end
                    )
                    os.truncate(self._path(seq), valid_end)
                else:
                    log.error("spool: segment %d is corrupt after %d records; kept aside", seq, len(frames))
                    self._path(seq).rename(self._path(seq).with_suffix(".corrupt"))
                    continue
            self.depth += len(frames)
            self.bytes += valid_end - start
        if not segments or head_seq not in segments:
            head_seq, head_off = (segments[0] if segments else head_seq + 1), 0
        self._head = (head_seq, head_off)
        tail = self._segments()[-1] if self._segments() else head_seq
        self._tail_seq = tail
        self._fd = os.open(self._path(tail), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._tail_size = os.fstat(self._fd).st_size
        if self.depth:
            log.info("spool: %d records (%d bytes) waiting from a previous run", self.depth, self.bytes)

    # --- writing -------------------------------------------------------------
    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Append one record at the tail; :class:`SpoolFullError` if it would pass ``max_bytes``."""
        frame = _encode(topic, key, value)
        with self._lock:
            if self.bytes + len(frame) > self.max_bytes:
                raise SpoolFullError(
                    f"spool {self.dir} is full ({self.bytes} of {self.max_bytes} bytes): event not accepted"
                )
            if self._tail_size >= self.segment_bytes:
                self._rotate()
            os.write(self._fd, frame)
            self._tail_size += len(frame)
            self.depth += 1
            self.bytes += len(frame)
            self.appended_total += 1
            self._maybe_sync()

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._tail_seq += 1
        self._fd = os.open(self._path(self._tail_seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._tail_size = 0

    def _maybe_sync(self) -> None:
        if self.fsync == "always" or (
            self.fsync == "interval" and time.monotonic() - self._last_sync >= self.fsync_interval_s
        ):
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def sync(self) -> None:
        """Force the tail to disk."""
        with self._lock:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    # --- draining --------------------------------------------------------------
    def _read(self, n: int) -> list[tuple[tuple[int, int], int, Record]]:
        out: list[tuple[tuple[int, int], int, Record]] = []
        seq, off = self._head
        while len(out) < n and seq <= self._tail_seq:
            try:
                f = self._path(seq).open("rb")
            except FileNotFoundError:
                seq, off = seq + 1, 0
                continue
            with f:
                f.seek(off)
                data = f.read(_CHUNK)
                if len(data) >= _HEAD.size and not _frames(data)[0]:  # one record larger than a chunk
                    data += f.read(_HEAD.unpack_from(data)[0])
                at_eof = f.read(1) == b""
            frames, _ = _frames(data)
            for end, payload in frames[: n - len(out)]:
                out.append(((seq, off + end), _HEAD.size + len(payload), _decode(payload)))
            if len(out) >= n or not at_eof and frames:
                off += frames[-1][0] if frames else 0
                continue
            if seq == self._tail_seq:
                break
            seq, off = seq + 1, 0
        return out

    def peek(self, n: int) -> list[Record]:
        """Up to ``n`` records from the head, in append order (not removed until :meth:`commit`)."""
        with self._lock:
            self._peeked = self._read(n)
            return [r for _, _, r in self._peeked]

    def commit(self, n: int) -> None:
        """Drop the first ``n`` records returned by the last :meth:`peek` (they reached Kafka)."""
        if n <= 0:
            return
        with self._lock:
            done = self._peeked[:n]
            self._peeked = self._peeked[n:]
            new_head = done[-1][0]
            for seq in range(self._head[0], new_head[0]):
                self._path(seq).unlink(missing_ok=True)
            self._head = new_head
            self.depth -= len(done)
            self.bytes -= sum(size for _, size, _ in done)
            self.drained_total += len(done)
            if self.depth == 0 and self._head[0] == self._tail_seq:
                self._rotate()  # start a fresh segment; the drained one goes
                self._path(self._head[0]).unlink(missing_ok=True)
                self._head = (self._tail_seq, 0)
            tmp = self.dir / "cursor.tmp"
            with tmp.open("w") as f:
                f.write(f"{self._head[0]} {self._head[1]}\n")
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.dir / "cursor")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
            fcntl.flock(self._lockfd, fcntl.LOCK_UN)
            os.close(self._lockfd)

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
