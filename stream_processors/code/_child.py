"""Checker child processes: one process, one socket, one shared progress counter.

A child is a fresh interpreter running ``child_main`` (fork + exec, like multiprocessing's
``spawn``, but it never re-imports the parent's ``__main__``). The parent talks to it in round
trips of whole batches, one pickle each way over a ``multiprocessing`` ``Connection``. Before item
``i`` the child stores ``i + 1`` in a counter shared through a ``memfd``; the parent reads it to
time each item and, when it has to kill the child, to know exactly which item was running.
Nothing here logs code.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import mmap
import os
import resource
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

RECEIVING = -1  # the counter's value until the child has the whole batch
_ENTRY = "import sys; from stream_processors.code._child import child_main as m; m(*map(int, sys.argv[1:]))"
_ROOT = str(Path(__file__).resolve().parents[2])  # where the ``stream_processors`` package lives


def _counter(fd: int) -> tuple[mmap.mmap, ctypes.c_int64]:
    buf = mmap.mmap(fd, 8)
    return buf, ctypes.c_int64.from_buffer(buf)  # one aligned 8-byte store: no torn reads


def child_main(sock_fd: int, progress_fd: int, memory_limit: int) -> None:
    """Entry point of a checker process: answer batches until the socket closes."""
    from stream_processors.code._checks import check_code

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the worker, which stops us
    if memory_limit > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    _buf, progress = _counter(progress_fd)
    # ASTs are acyclic and freed by refcounting; the cyclic GC would only rescan them (~15 %).
    # Collect once per batch instead, over what the batch created (startup objects are frozen).
    gc.disable()
    gc.freeze()
    conn = Connection(sock_fd)
    while True:
        try:
            batch: list[tuple[str, str]] = conn.recv()
        except (EOFError, OSError, MemoryError):
            return
        results = []
        for i, (language, code) in enumerate(batch):
            progress.value = i + 1
            results.append(check_code(language, code, sys.maxsize).to_tuple())
        progress.value = len(batch) + 1  # all checked: a death from here on is nobody's fault
        del batch
        gc.collect()
        try:
            conn.send(results)
        except (OSError, MemoryError):
            return


class ChildProcess:
    """The parent's handle on one checker process, started lazily and replaced when killed.

    ``roundtrip`` blocks (run it in a thread); ``kill`` and ``progress`` are safe from any thread.
    """

    def __init__(self, memory_limit: int) -> None:
        self._memory_limit = memory_limit
        self._memfd = os.memfd_create("labstream-code-progress", 0)  # inherited by every child
        os.ftruncate(self._memfd, 8)
        self._buf, self._progress = _counter(self._memfd)
        self._progress.value = RECEIVING
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._doomed = False
        self.exitcode: int | None = None

    @property
    def progress(self) -> int:
        """``RECEIVING``, then the 1-based index of the item being checked, then ``len(batch) + 1``."""
        return int(self._progress.value)

    def mark_receiving(self) -> None:
        """Reset the counter before a round trip, so a watcher never reads the last batch's value."""
        self._progress.value = RECEIVING

    def roundtrip(self, batch: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
        """Send a batch, wait for its results; raises ``EOFError``/``OSError`` if the child died."""
        if self._doomed or self._proc is None or self._proc.poll() is not None:
            self._restart()
        assert self._conn is not None
        try:
            self._conn.send(batch)
            results: list[tuple[Any, ...]] = self._conn.recv()
        except BaseException:
            self._reap()
            raise
        return results

    def kill(self) -> None:
        """Kill the child now (e.g. on a timeout); the blocked ``roundtrip`` then raises."""
        self._doomed = True
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()

    def close(self) -> None:
        """Stop the child for good and release the counter."""
        self._doomed = True
        self._reap()
        with contextlib.suppress(OSError, ValueError, BufferError):
            del self._progress
            self._buf.close()
            os.close(self._memfd)

    def _restart(self) -> None:
        self._reap()
        ours, theirs = socket.socketpair()
        path = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        args = [str(theirs.fileno()), str(self._memfd), str(self._memory_limit)]
        with theirs:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-c", _ENTRY, *args],
                pass_fds=(theirs.fileno(), self._memfd),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # the terminal's Ctrl-C goes to the worker, not to us
            )
        self._conn, self._doomed, self.exitcode = Connection(ours.detach()), False, None

    def _reap(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            self.exitcode = proc.returncode
