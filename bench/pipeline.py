"""Worker throughput, latency, memory and scale-out, each a ratio measured in this run.

Every figure uses real ``labstream worker`` processes (``bench._agent``) on the
given broker, all with the same Faust settings (LabStream's, from
:func:`stream_processors.app.faust_settings`). Throughput = time to drain a
topic pre-filled with N events, read from the worker's
``labstream_events_in_total`` (counted after outputs are delivered). The
consume-only baseline is the same worker whose pipelines return nothing.

    python -m bench.pipeline [--quick]     # starts an embedded broker
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _feed, _latency
from bench._workers import BenchWorker, drain_rate, start_together
from foundation.settings import Settings, Topics
from labstream.broker import ensure_topics


class _Bench:
    def __init__(self, bootstrap: str, tmp: Path, partitions: int = 2, kind: str = "tansu") -> None:
        self.bootstrap, self.tmp, self.partitions, self.kind = bootstrap, tmp, partitions, kind
        self.models = tmp / "models"
        from detector import ModelRegistry

        ModelRegistry(self.models).ensure_model(seed=42)  # trained once, before any worker starts
        self.topics = Topics.with_prefix(f"bench-{uuid.uuid4().hex[:8]}-")
        ensure_topics(bootstrap, self.topics.all(), partitions)

    def settings(self) -> Settings:
        """Same topics and Faust settings; a new app id (consumer group, tables) each time."""
        return Settings(
            bootstrap_servers=self.bootstrap,
            app_id=f"bench-{uuid.uuid4().hex[:8]}",
            broker_kind=self.kind,  # type: ignore[arg-type]  # tansu: see Settings.broker_kind
            model_dir=self.models,
            data_dir=self.tmp,
            partitions=self.partitions,
        ).with_topics(self.topics)

    def fill(self, topic: str, pool: list[tuple[bytes, bytes]], n: int) -> None:
        asyncio.run(_feed.produce(self.bootstrap, topic, _feed.take(pool, n)))

    def drain(
        self, mode: str, topic: str, n: int, workers: int = 1, keep: bool = False
    ) -> tuple[float, list[Any]]:
        s = self.settings()
        ws = start_together(s, mode, self.tmp, workers)
        try:
            rate = drain_rate(ws, topic, n)
        except BaseException:
            for w in ws:
                w.stop()
            raise
        if not keep:
            for w in ws:
                w.stop()
        return rate, ws


def _row(name: str, value: float, unit: str, target: str, detail: str) -> dict[str, Any]:
    return {"name": name, "value": round(value, 3), "unit": unit, "target": target, "detail": detail}


def run(
    bootstrap: str, quick: bool = False, kind: str = "tansu", scale_partitions: int = 2
) -> list[dict[str, Any]]:
    """Rows for ``make bench`` (see the module docstring); ``kind`` names the broker at ``bootstrap``.

    On Apache Kafka (``bench.pipeline_kafka``) every row's name starts with ``[kafka]`` and the
    scale-out row uses ``scale_partitions`` partitions.
    """
    n = 40_000 if quick else 200_000
    rss_small, rss_big = (20_000, 200_000) if quick else (100_000, 1_000_000)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as d:
        b = _Bench(bootstrap, Path(d), kind=kind)
        t = b.topics
        metrics = _feed.metric_values()
        b.fill(t.network_metrics, metrics, n)
        raw = asyncio.run(_feed.raw_drain(bootstrap, t.network_metrics, n))
        noop, _ = b.drain("noop", t.network_metrics, n)
        take, _ = b.drain("take", t.network_metrics, n)
        rows.append(
            _row(
                "pipeline: consume-only agent / raw aiokafka consume+json",
                noop / raw,
                "ratio",
                ">= 0.1",
                f"consume-only worker {noop:,.0f}/s, raw aiokafka {raw:,.0f}/s; stock Faust take_events "
                f"agent, same settings: {take:,.0f}/s ({take / raw:.3f} of raw)",
            )
        )
        # one pipeline worker: throughput, then latency at half of it, then memory up to rss_big events
        rate, (w,) = b.drain("pipeline", t.network_metrics, n, keep=True)
        try:
            rows.append(
                _row(
                    "pipeline: metrics pipeline / consume-only agent",
                    rate / noop,
                    "ratio",
                    ">= 0.9",
                    f"metrics pipeline {rate:,.0f}/s, consume-only {noop:,.0f}/s, {n:,} events, "
                    f"{b.partitions} partitions, 1 worker",
                )
            )
            rows.append(_first_design_row(rate))
            lat = asyncio.run(
                _latency.measure(
                    bootstrap,
                    t.network_metrics,
                    t.alerts,
                    metrics,
                    rate / 2,
                    seconds=8.0 if quick else 15.0,
                    partitions=b.partitions,
                )
            )
            detail = (
                f"event -> alert at {lat['rate']:,.0f} events/s (half of {rate:,.0f}/s), "
                f"{lat['answered']}/{lat['probes']} spike probes answered"
            )
            rows.append(_row("pipeline: latency p50", lat["p50"], "ms", "", detail))
            rows.append(_row("pipeline: latency p99", lat["p99"], "ms", "", detail))
            rows.append(_rss_row(b, w, metrics, rss_small, rss_big))
        finally:
            w.stop()
        rows += _other_pipelines(b, 10_000 if quick else 50_000, 2_000 if quick else 8_000)
        wide = b if scale_partitions == b.partitions else _Bench(bootstrap, Path(d), scale_partitions, kind)
        rows.append(_scale_row(wide, metrics, n))
    if kind != "tansu":
        for r in rows:
            r["name"] = f"[{kind}] {r['name']}"
    return rows


def _first_design_row(rate: float) -> dict[str, Any]:
    from bench.detector import _first_design_rate
    from detector import synthetic_normal_traffic

    rows, _, _ = synthetic_normal_traffic(n_devices=100, minutes=100, seed=3)
    first = _first_design_rate(rows)
    return _row(
        "pipeline: metrics pipeline / first design per-event scoring",
        rate / first,
        "ratio",
        ">= 100",
        f"worker {rate:,.0f} events/s end to end; first design {first:,.0f} events/s "
        "(predict + score_samples per row, scoring only)",
    )


def _rss_row(
    b: _Bench, w: BenchWorker, pool: list[tuple[bytes, bytes]], small: int, big: int
) -> dict[str, Any]:
    topic = b.topics.network_metrics
    done = w.events_in(topic)
    if done < small:
        b.fill(topic, pool, small - done)
        _wait_count(w.events_in, topic, small)
    at_small, done = w.rss(), w.events_in(topic)
    b.fill(topic, pool, big - done)
    _wait_count(w.events_in, topic, big)
    at_big = w.rss()
    return _row(
        f"pipeline: worker RSS after {big:,} / after {small:,} metric events",
        at_big / at_small,
        "ratio",
        "<= 1.2",
        f"{at_small / 2**20:,.0f} MiB -> {at_big / 2**20:,.0f} MiB, 500 devices, same worker",
    )


def _wait_count(count: Callable[[str], int], topic: str, n: int) -> None:
    import time

    deadline = time.monotonic() + 900
    while count(topic) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{topic}: {count(topic)} of {n} events processed")
        time.sleep(0.2)


def _other_pipelines(b: _Bench, n_cmd: int, n_code: int) -> list[dict[str, Any]]:
    rows = []
    for label, topic, pool, n in (
        ("commands", b.topics.lab_events, _feed.command_values(), n_cmd),
        ("code (2 KB submissions)", b.topics.student_events, _feed.code_values(), n_code),
    ):
        b.fill(topic, pool, n)
        noop, _ = b.drain("noop", topic, n)
        rate, _ = b.drain("pipeline", topic, n)
        rows.append(
            _row(
                f"pipeline: {label} pipeline / consume-only agent",
                rate / noop,
                "ratio",
                "",
                f"{label} {rate:,.0f}/s, consume-only on the same topic {noop:,.0f}/s, {n:,} events",
            )
        )
    return rows


def _scale_row(b: _Bench, pool: list[tuple[bytes, bytes]], n: int) -> dict[str, Any]:
    b.topics = Topics.with_prefix(f"bench-{uuid.uuid4().hex[:8]}-")  # a topic of its own, n events
    ensure_topics(b.bootstrap, b.topics.all(), b.partitions)
    topic = b.topics.network_metrics
    b.fill(topic, pool, n)
    total = _topic_size(b.bootstrap, topic)
    one, _ = b.drain("pipeline", topic, total)
    two, ws = b.drain("pipeline", topic, total, workers=2, keep=True)
    split = [w.events_in(topic) for w in ws]
    for w in ws:
        w.stop()
    return _row(
        f"pipeline: two workers on {b.partitions} partitions / one worker",
        two / one,
        "ratio",
        ">= 1.5",
        f"one worker {one:,.0f}/s, two {two:,.0f}/s (split {split[0]:,}/{split[1]:,}) over {total:,} "
        "metric events; 2 cores shared by the broker, both workers and this benchmark",
    )


def _topic_size(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        return int(sum(c.end_offsets(tps).values()))
    finally:
        c.close()


if __name__ == "__main__":  # pragma: no cover
    from labstream.broker import EmbeddedBroker

    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--quick", action="store_true", help="fewer events (about a minute)")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        for r in run(broker.bootstrap, quick=args.quick):
            print(f"{r['name']:<70} {r['value']:>10} {r['unit']:<6} {r['target']:<7} {r['detail']}")
