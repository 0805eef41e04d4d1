"""Worker subprocesses for the pipeline benchmark, watched through their ``/metrics`` page.

A worker is ``python -m bench._agent MODE`` (the real :class:`Worker`, with
the pipelines swapped for a no-op in ``noop`` mode), configured through the
same ``LABSTREAM_*`` environment as ``labstream worker``. Throughput is read
from ``labstream_events_in_total``, which a worker increments only once a
batch's outputs are delivered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil

from foundation.settings import Settings
from labstream.broker import free_port
from labstream.processes import stop_process

GO_FILE_ENV = "BENCH_GO_FILE"  # see start_together and bench._agent
_EVENTS_IN = re.compile(rb'^labstream_events_in_total\{topic="([^"]+)"\} ([0-9.e+]+)$', re.M)


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env.update(settings.to_env())
    return env


class BenchWorker:
    """One worker subprocess; ``mode`` is ``pipeline`` or ``noop``."""

    def __init__(self, settings: Settings, mode: str, log_dir: Path, go_file: Path | None = None) -> None:
        self.port = free_port()
        self.settings = settings.model_copy(update={"worker_web_port": self.port})
        self.mode = mode
        self.go_file = go_file  # see start_together
        self.log_path = log_dir / f"worker-{mode}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BenchWorker:
        log = self.log_path.open("ab")
        env = env_for(self.settings)
        if self.go_file is not None:
            env[GO_FILE_ENV] = str(self.go_file)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._agent", self.mode],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:  # noqa: S310
            return r.read()

    def events_in(self, topic: str) -> int:
        for t, v in _EVENTS_IN.findall(self._get("/metrics")):
            if t.decode() == topic:
                return int(float(v))
        return 0

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: see {self.log_path}")
            try:
                if b'"ready": true' in self._get("/ready") or b'"ready":true' in self._get("/ready"):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s: see {self.log_path}")

    def rss(self) -> int:
        assert self.proc is not None
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc, 30)


def start_together(settings: Settings, mode: str, log_dir: Path, n: int) -> list[BenchWorker]:
    """``n`` workers that start their Faust apps at the same moment, once all have imported everything.

    With the broker's ``group.initial.rebalance.delay.ms`` (Apache Kafka's default is 3 s) they join
    the group's first generation together: the measurement sees no rebalance.
    """
    go = log_dir / f"go-{uuid.uuid4().hex}"  # never a stale signal of an earlier measurement
    workers = [BenchWorker(settings, mode, log_dir, go_file=go).start() for _ in range(n)]
    try:
        _wait_loaded(workers, go)
    except BaseException:
        for w in workers:
            w.stop()
        raise
    go.touch()
    for marker in log_dir.glob(f"{go.name}.loaded.*"):
        marker.unlink()
    return workers


def _wait_loaded(workers: list[BenchWorker], go: Path) -> None:
    deadline = time.monotonic() + 300
    while len(list(go.parent.glob(f"{go.name}.loaded.*"))) < len(workers):
        for w in workers:
            assert w.proc is not None
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker exited: see {w.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers not loaded within 300 s")
        time.sleep(0.05)


def drain_rate(workers: list[BenchWorker], topic: str, n: int, timeout: float = 600.0) -> float:
    """events/s for ``workers`` to process ``n`` events of ``topic``, from the first processed batch on.

    The clock starts at the first poll that sees any event processed (so worker
    start-up and the group join are not counted) and the events counted before
    that poll are left out of the rate.
    """
    deadline = time.monotonic() + timeout
    t0, n0 = None, 0
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc is not None and w.proc.poll() is not None:
                raise RuntimeError(f"worker exited: see {w.log_path}")
        try:
            done = sum(w.events_in(topic) for w in workers)
        except OSError:
            done = 0
        now = time.perf_counter()
        if t0 is None and done > 0:
            t0, n0 = now, done
        if done >= n and t0 is not None:
            if now - t0 <= 0 or done == n0:
                raise RuntimeError("drain finished before a second poll: use more events")
            return (done - n0) / (now - t0)
        time.sleep(0.02)
    raise RuntimeError(f"{topic}: not drained within {timeout}s")
