"""``CodeCheckPool``: ``check_code`` for an asyncio worker, bounded in time and memory.

Simple Python submissions (see ``_prescan``) in small calls (at most ``inline_max_items``) are
checked inline: no round trip, lowest latency. Larger batches go to the children even when simple,
so the checks run on other cores than the event loop's. Everything else goes to child processes
(``_child``, ``RLIMIT_AS`` set) in whole batches, one round trip per batch. Each item gets
``timeout_s``: the parent watches a shared progress counter, and when one item runs too long it
kills that child, gives exactly that item ``limit="timeout"``, and rechecks the batch's other items
on a fresh child. A child that dies (out of memory, a crash) is replaced the same way. Cancelling
a call kills the child it used.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stream_processors.code._checks import check_code
from stream_processors.code._child import RECEIVING, ChildProcess
from stream_processors.code._prescan import INLINE_MAX_BYTES, inline_safe
from stream_processors.code._verdict import CodeVerdict, Limit, limited, size_limited, utf8_size

_INLINE_SLICE_S = 0.01  # longest the inline path keeps the event loop before yielding
_STARTUP_S = 30.0  # a child's start (imports) and a batch's transfer are not the items' fault


class CodeCheckPool:
    """Safe, batched ``check_code``; ``check`` and ``check_many`` never raise for any input.

    >>> async def demo() -> str | None:
    ...     async with CodeCheckPool(max_bytes=4096, timeout_s=2.0, workers=1) as pool:
    ...         return (await pool.check("python", "x = (")).error["message"]
    >>> asyncio.run(demo())
    "'(' was never closed"
    """

    def __init__(
        self,
        max_bytes: int = 256 * 1024,
        timeout_s: float = 2.0,
        workers: int = 1,
        *,
        memory_limit_mb: int = 1024,
        inline_max_bytes: int = INLINE_MAX_BYTES,
        inline_max_items: int = 4,
        batch_max_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        if max_bytes < 1 or timeout_s <= 0 or workers < 1:
            raise ValueError("max_bytes, timeout_s and workers must be positive")
        self.max_bytes, self.timeout_s, self.workers = max_bytes, timeout_s, workers
        self._inline_max = inline_max_bytes
        self._inline_items = inline_max_items
        self._batch_max = batch_max_bytes
        self._poll = min(0.05, timeout_s / 4)
        self._children = [ChildProcess(memory_limit_mb * 1024 * 1024) for _ in range(workers)]
        self._idle: asyncio.Queue[ChildProcess] = asyncio.Queue()
        for child in self._children:
            self._idle.put_nowait(child)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="code-check")
        self._closed = False

    async def __aenter__(self) -> CodeCheckPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start every child now rather than on first use (optional)."""
        await asyncio.gather(*(self._run([]) for _ in range(self.workers)))

    async def check(self, language: str, code: str) -> CodeVerdict:
        """Check one submission."""
        return (await self.check_many([(language, code)]))[0]

    async def check_many(self, items: Sequence[tuple[str, str]]) -> list[CodeVerdict]:
        """Check a batch; verdicts in input order, each with the same bounds as ``check``."""
        if self._closed:
            raise RuntimeError("CodeCheckPool is closed")
        results: list[CodeVerdict | None] = [None] * len(items)
        remote: list[int] = []
        slice_start = time.perf_counter()
        inline_limit = self._inline_max if len(items) <= self._inline_items else 0
        for i, (language, code) in enumerate(items):
            over = utf8_size(code, self.max_bytes)
            if over is not None:
                results[i] = size_limited(len(code), over, self.max_bytes)
            elif inline_safe(language, code, inline_limit):
                results[i] = check_code(language, code, self.max_bytes)
                if time.perf_counter() - slice_start > _INLINE_SLICE_S:
                    await asyncio.sleep(0)
                    slice_start = time.perf_counter()
            else:
                remote.append(i)
        if remote:
            await asyncio.gather(*(self._run_chunk(items, c, results) for c in self._chunks(items, remote)))
        return [r if r is not None else limited(0, "crash", "not checked") for r in results]

    async def close(self) -> None:
        """Stop the children; idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        for child in self._children:
            child.kill()
        self._threads.shutdown(wait=True)
        for child in self._children:
            child.close()

    def _chunks(self, items: Sequence[tuple[str, str]], remote: list[int]) -> list[list[int]]:
        """Split so every child gets work, and no round trip carries more than ``batch_max_bytes``."""
        per_child = -(-len(remote) // self.workers)
        chunks: list[list[int]] = [[]]
        size = 0
        for i in remote:
            n = len(items[i][1])
            if chunks[-1] and (len(chunks[-1]) >= per_child or size + n > self._batch_max):
                chunks.append([])
                size = 0
            chunks[-1].append(i)
            size += n
        return chunks

    async def _run_chunk(
        self, items: Sequence[tuple[str, str]], indices: list[int], results: list[CodeVerdict | None]
    ) -> None:
        stack = [indices]
        while stack:
            pending = stack.pop()
            batch = [items[j] for j in pending]
            done = await self._run(batch)
            for j, raw in zip(pending, done, strict=True):
                if raw is not None:
                    results[j] = raw
            unresolved = [j for j, raw in zip(pending, done, strict=True) if raw is None]
            if len(unresolved) > 1 and len(unresolved) == len(pending):
                # the child died before or after its items: no culprit known, so bisect
                mid = len(unresolved) // 2
                stack += [unresolved[mid:], unresolved[:mid]]
            elif unresolved:
                stack.append(unresolved)

    async def _run(self, batch: list[tuple[str, str]]) -> list[CodeVerdict | None]:
        """One round trip on an idle child; ``None`` for items to retry elsewhere."""
        loop = asyncio.get_running_loop()
        child = await self._idle.get()
        fut: asyncio.Future[list[tuple[Any, ...]]] | None = None
        try:
            child.mark_receiving()
            fut = loop.run_in_executor(self._threads, child.roundtrip, batch)
            seen, since = RECEIVING, loop.time()
            while not fut.done():
                await asyncio.wait({fut}, timeout=self._poll)
                now, progress = loop.time(), child.progress
                if progress != seen:
                    seen, since = progress, now
                allowed = _STARTUP_S if progress == RECEIVING else self.timeout_s
                if not fut.done() and now - since > allowed:
                    child.kill()
                    await asyncio.wait({fut})
                    fut.exception()  # EOFError from the kill: expected, retrieved
                    return self._blame(batch, progress, "timeout", f"checking took over {self.timeout_s:g} s")
            try:
                return [CodeVerdict.from_tuple(raw) for raw in fut.result()]
            except (EOFError, OSError):
                died = child.exitcode == -signal.SIGKILL
                limit: Limit = "memory" if died else "crash"
                why = "ran out of memory" if died else f"died (exit code {child.exitcode})"
                return self._blame(batch, child.progress, limit, f"the checker process {why}")
        finally:
            if fut is None or fut.done():
                self._idle.put_nowait(child)
            else:  # cancelled mid-flight: the child is killed, reusable once its thread returns
                child.kill()
                fut.add_done_callback(lambda f: self._recycle(f, child))

    def _recycle(self, fut: asyncio.Future[Any], child: ChildProcess) -> None:
        if not fut.cancelled():
            fut.exception()  # retrieved, so asyncio does not report it
        self._idle.put_nowait(child)

    @staticmethod
    def _blame(batch: list[tuple[str, str]], progress: int, limit: Limit, message: str) -> list[Any]:
        """Verdicts after a child was lost: only the item it was on is blamed, the rest retried."""
        out: list[CodeVerdict | None] = [None] * len(batch)
        if 1 <= progress <= len(batch):
            out[progress - 1] = limited(len(batch[progress - 1][1]), limit, message)
        elif len(batch) == 1:
            out[0] = limited(len(batch[0][1]), limit, message)
        return out
