"""Agents do not hold each other up: event-to-alert latency with the code agent saturated vs idle.

One real ``labstream worker`` (``bench._agent pipeline``). First the event-to-alert latency of
metric spikes (:mod:`bench._latency`) with nothing else to do; then the same measurement while
``student-events`` holds a backlog of slow submissions (~200 KB of Python each, tens of ms per
check in the sandbox pool) that keeps the code agent busy for the whole measurement (checked: the
backlog is not drained when it ends). The figure is the ratio of the two p99s, measured in the
same run on the same worker: before the per-partition backlog in
:mod:`stream_processors.intake`, one fetch loop fed every agent and a full code queue stopped it.

    python -m bench --only bench.isolation
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _feed, _latency
from bench._workers import BenchWorker
from bench.pipeline import _Bench, _row
from schemas import CodeSubmission


def slow_submissions(n: int, size: int = 200 * 1024) -> list[tuple[bytes, bytes]]:
    body = "".join(
        f"def step_{i}(device):\n    x = [device.send_command('show run | inc {i}') for _ in range({i})]\n"
        f"    return {{k: v for k, v in enumerate(x) if v}}\n\n"
        for i in range(2000)
    )
    out = []
    for i in range(n):
        code = f"# attempt {i}\n{body}"[:size]
        aid = f"k1-slow-{i % 50:08x}"
        ev = CodeSubmission(anonymous_id=aid, exercise_id=f"ex-{i % 5}", language="python", code=code)
        out.append((aid.encode(), ev.to_bytes()))
    return out


def run(bootstrap: str, quick: bool = False) -> list[dict[str, Any]]:
    seconds, rate = (8.0, 200.0) if quick else (15.0, 300.0)
    n_slow = 400 if quick else 800
    with tempfile.TemporaryDirectory() as d:
        b = _Bench(bootstrap, Path(d))
        t = b.topics
        metrics = _feed.metric_values()
        w = BenchWorker(b.settings(), "pipeline", b.tmp).start()
        try:
            w.wait_ready()
            print("isolation: measuring with the code agent idle", file=sys.stderr, flush=True)
            idle = asyncio.run(
                _latency.measure(bootstrap, t.network_metrics, t.alerts, metrics, rate, seconds, partitions=2)
            )
            b.fill(t.student_events, slow_submissions(n_slow), n_slow)
            deadline = time.monotonic() + 120
            while w.events_in(t.student_events) == 0 and time.monotonic() < deadline:
                time.sleep(0.1)  # the code agent has started on the backlog
            print("isolation: measuring with the code agent saturated", file=sys.stderr, flush=True)
            busy = asyncio.run(
                _latency.measure(bootstrap, t.network_metrics, t.alerts, metrics, rate, seconds, partitions=2)
            )
            checked = w.events_in(t.student_events)
        except BaseException:
            print(w.log_path.read_text(errors="replace")[-4000:], file=sys.stderr)  # gone with the tmp dir
            raise
        finally:
            w.stop()
    if checked >= n_slow:
        raise RuntimeError(f"the code agent drained its {n_slow} slow submissions: not saturated throughout")
    detail = (
        f"p99 {busy['p99']:,.0f} ms with the code agent saturated ({checked}/{n_slow} slow submissions "
        f"checked when the measurement ended) vs {idle['p99']:,.0f} ms idle (p50 {busy['p50']:,.0f} vs "
        f"{idle['p50']:,.0f} ms); {rate:,.0f} metric events/s, {busy['answered']}/{busy['probes']} and "
        f"{idle['answered']}/{idle['probes']} spike probes answered"
    )
    return [
        _row(
            "isolation: event-to-alert p99, code agent saturated / idle",
            busy["p99"] / idle["p99"],
            "ratio",
            "",
            detail,
        )
    ]


if __name__ == "__main__":
    import argparse

    from labstream.broker import EmbeddedBroker

    parser = argparse.ArgumentParser(prog="python -m bench.isolation")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        for r in run(broker.bootstrap, quick=args.quick):
            print(r)
