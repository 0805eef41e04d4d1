"""LabStream's worker against a Quix Streams peer: the metrics job, same data, same Kafka, same run.

The peer (:mod:`bench._quix_app`) is the metrics job as a user of Quix Streams would write it:
an ``Application``, ``app.dataframe``, one stateful ``apply`` per message scoring the reading with
the same promoted model (LabStream's detector, baseline and incident rule, state in Quix's
RocksDB state with its changelog), ``to_topic`` for the alerts. It runs in its own virtualenv
(``make bench`` creates ``.venv-quix``: quixstreams 3.28.1 pins pydantic < 2.14 and
pydantic-settings < 2.16, below what the project's venv resolves to), on the Apache Kafka node
that ``bench.pipeline_kafka`` starts, right after LabStream's figures.

Both drain the same pre-filled ``network-metrics`` topic (2 partitions, N readings of 500
devices), each with a consumer group of its own, from the first processed event to N processed
with the outputs delivered: LabStream's worker as in :mod:`bench.pipeline` (its
``labstream_events_in_total``), the Quix application in its own process (see its docstring). The
baseline of the run is a raw aiokafka consumer decoding JSON on the same topic; each system's
consume-only rate (LabStream's no-op worker, a Quix application with no step) shows what the
framework costs before any scoring. Latency: spike probes on new devices among normal readings
at the same rate for both (half of the slower one's throughput), event to alert.

    python -m bench.quix [--quick]      # starts a one-node Apache Kafka
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench import _feed, _latency
from bench._workers import BenchWorker, drain_rate, env_for
from bench.pipeline import _Bench, _row
from foundation.settings import Settings
from labstream.broker import ensure_topics
from labstream.processes import stop_process

ROOT = Path(__file__).resolve().parents[1]
QUIX_PYTHON_ENV = "LABSTREAM_BENCH_QUIX_PYTHON"


def quix_python() -> str:
    """The peer's interpreter: ``$LABSTREAM_BENCH_QUIX_PYTHON``, else ``.venv-quix`` (``make bench``)."""
    path = os.environ.get(QUIX_PYTHON_ENV) or str(ROOT / ".venv-quix" / "bin" / "python")
    probe = (
        subprocess.run(
            [path, "-c", "import quixstreams, detector; print(quixstreams.__version__)"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if Path(path).exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        raise RuntimeError(
            f"no Quix Streams interpreter at {path}: `make bench` creates .venv-quix "
            f"(or set {QUIX_PYTHON_ENV}); {probe.stderr.strip()[-300:] if probe else 'missing'}"
        )
    return path


class QuixApp:
    """One run of :mod:`bench._quix_app` as a subprocess."""

    def __init__(
        self, python: str, settings: Settings, mode: str, n: int, group: str, state_dir: Path, alerts: str
    ) -> None:
        self.log_path = state_dir.parent / f"quix-{mode}-{uuid.uuid4().hex[:6]}.log"
        self.out_path = self.log_path.with_suffix(".out")
        args = [mode, str(n), group, str(state_dir), settings.topics.network_metrics, alerts]
        with self.log_path.open("ab") as log, self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [python, "-m", "bench._quix_app", *args],
                env=env_for(settings),
                cwd=ROOT,
                stdout=out,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )

    def result(self, timeout: float = 900.0) -> dict[str, Any]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(
                f"Quix application did not finish in {timeout}s: see {self.log_path}"
            ) from None
        lines = self.out_path.read_text().strip().splitlines()
        if code != 0 or not lines:
            tail = self.log_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"Quix application exited with {code}: {tail}")
        out: dict[str, Any] = json.loads(lines[-1])
        return out

    def stop(self) -> None:
        stop_process(self.proc, 30)


def _group_lag(bootstrap: str, group: str, topic: str) -> int | None:
    """Messages of ``topic`` the group has not committed yet (None: nothing committed yet)."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = {
            tp: m.offset for tp, m in admin.list_consumer_group_offsets(group).items() if tp.topic == topic
        }
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if len(committed) < len(tps):
            return None
        ends = consumer.end_offsets(tps)
        return int(sum(ends[tp] - committed[tp] for tp in tps))
    finally:
        consumer.close()
        admin.close()


def _wait_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    lag: int | None = None
    while time.monotonic() < deadline:
        lag = _group_lag(bootstrap, group, topic)
        if lag == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"group {group} still {lag} behind on {topic} after {timeout}s")


async def _alert_counts(bootstrap: str, topic: str, partitions: int) -> Counter[str]:
    """``{status: records}`` of the network-anomaly alerts on ``topic`` (read to its end)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: Counter[str] = Counter()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    doc = json.loads(m.value)
                    if doc.get("alert_type") == "network_anomaly":
                        out[doc["status"]] += 1
        return out
    finally:
        await consumer.stop()


def _counts(c: Counter[str]) -> str:
    return "/".join(str(c.get(s, 0)) for s in ("firing", "updated", "resolved"))


def run(bootstrap: str, quick: bool = False) -> list[dict[str, Any]]:
    """Rows for ``make bench`` on the Apache Kafka node at ``bootstrap`` (``bench.pipeline_kafka``)."""
    python = quix_python()
    n = 20_000 if quick else 60_000
    seconds = 8.0 if quick else 15.0
    with tempfile.TemporaryDirectory(prefix="labstream-bench-quix-") as d:
        tmp = Path(d)
        b = _Bench(bootstrap, tmp, kind="kafka")
        topic = b.topics.network_metrics
        quix_alerts = f"{b.topics.alerts}-quix"
        ensure_topics(bootstrap, [quix_alerts], b.partitions)
        pool = _feed.with_spikes(_feed.metric_values())  # some alerts to compare
        b.fill(topic, pool, n)
        raw = asyncio.run(_feed.raw_drain(bootstrap, topic, n))

        ls_noop, _ = b.drain("noop", topic, n)
        ls_settings = b.settings()
        worker = BenchWorker(ls_settings, "pipeline", tmp).start()
        try:
            ls_rate = drain_rate([worker], topic, n)
        finally:
            worker.stop()

        q_noop = QuixApp(python, b.settings(), "noop", n, f"quix-noop-{uuid.uuid4().hex[:8]}",
                         tmp / "quix-noop", quix_alerts).result()  # fmt: skip
        q_group, q_state = f"quix-{uuid.uuid4().hex[:8]}", tmp / "quix-state"
        q = QuixApp(python, b.settings(), "pipeline", n, q_group, q_state, quix_alerts).result()
        ls_alerts = asyncio.run(_alert_counts(bootstrap, b.topics.alerts, b.partitions))
        q_alerts = asyncio.run(_alert_counts(bootstrap, quix_alerts, b.partitions))

        # latency: both at the same load, half of the slower one's throughput, each with warm state
        rate = min(ls_rate, q["rate"]) / 2
        worker = BenchWorker(ls_settings, "pipeline", tmp).start()
        try:
            worker.wait_ready()
            _wait_caught_up(bootstrap, ls_settings.app_id, topic)
            ls_lat = asyncio.run(
                _latency.measure(bootstrap, topic, b.topics.alerts, pool, rate, seconds=seconds)
            )
        finally:
            worker.stop()
        app = QuixApp(python, b.settings(), "pipeline", 0, q_group, q_state, quix_alerts)
        try:
            _wait_caught_up(bootstrap, q_group, topic)
            q_lat = asyncio.run(_latency.measure(bootstrap, topic, quix_alerts, pool, rate, seconds=seconds))
        finally:
            app.stop()

    same = (
        "the same"
        if (ls_alerts["firing"], ls_alerts["updated"]) == (q_alerts["firing"], q_alerts["updated"])
        else "DIFFERENT"
    )
    what = (
        f"{n:,} metric events of 500 devices, 2 partitions; alerts firing/updated/resolved: LabStream "
        f"{_counts(ls_alerts)}, Quix {_counts(q_alerts)} ({same} firing and updated records); model "
        f"{q['model']}; Quix Streams 3.28.1, one message per apply"
    )
    rows = [
        _row(
            "quix: metrics job, LabStream worker / Quix Streams peer",
            ls_rate / q["rate"],
            "ratio",
            "",
            f"LabStream {ls_rate:,.0f}/s, Quix {q['rate']:,.0f}/s; {what}",
        ),
        _row(
            "quix: consume-only, LabStream worker / Quix application",
            ls_noop / q_noop["rate"],
            "ratio",
            "",
            f"LabStream no-op worker {ls_noop:,.0f}/s, Quix no-step application {q_noop['rate']:,.0f}/s",
        ),
        _row(
            "quix: Quix Streams peer / raw aiokafka consume+json",
            q["rate"] / raw,
            "ratio",
            "",
            f"Quix {q['rate']:,.0f}/s, LabStream {ls_rate:,.0f}/s ({ls_rate / raw:.3f} of raw), "
            f"raw aiokafka {raw:,.0f}/s",
        ),
    ]
    lat_detail = (
        f"event -> alert at {ls_lat['rate']:,.0f} / {q_lat['rate']:,.0f} events/s (half the slower "
        f"throughput), probes answered LabStream {ls_lat['answered']}/{ls_lat['probes']}, Quix "
        f"{q_lat['answered']}/{q_lat['probes']}; LabStream p50 {ls_lat['p50']:,.0f} ms p99 "
        f"{ls_lat['p99']:,.0f} ms, Quix p50 {q_lat['p50']:,.0f} ms p99 {q_lat['p99']:,.0f} ms"
    )
    rows.append(
        _row("quix: latency p50, LabStream / Quix", ls_lat["p50"] / q_lat["p50"], "ratio", "", lat_detail)
    )
    rows.append(
        _row("quix: latency p99, LabStream / Quix", ls_lat["p99"] / q_lat["p99"], "ratio", "", lat_detail)
    )
    return rows


if __name__ == "__main__":  # pragma: no cover
    import argparse

    from labstream.kafka_cluster import KafkaCluster

    parser = argparse.ArgumentParser(prog="python -m bench.quix")
    parser.add_argument("--quick", action="store_true", help="fewer events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labstream-bench-kafka-") as kd:
        with KafkaCluster(Path(kd) / "kafka", nodes=1) as cluster:
            for r in run(cluster.bootstrap, quick=args.quick):
                print(f"{r['name']:<60} {r['value']:>8} {r['detail']}", flush=True)
    sys.exit(0)
