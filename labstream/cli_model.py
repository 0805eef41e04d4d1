"""``labstream model ...``: train, evaluate, list, promote, rollback.

Training sources: a JSONL/CSV file (Parquet too when pyarrow is installed), a Kafka
topic between two times (kafka-python: offsets for the start time, read up to the end
time or the end offsets), or ``--synthetic`` for the demo (metadata says so).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from detector import DetectorError, ModelRegistry, synthetic_normal_traffic, train_detector
from detector.datasets import MetricsData, from_records, iter_file
from foundation.exceptions import ConfigurationError, LabStreamError
from foundation.settings import Settings


class ModelCommandError(LabStreamError):
    """A model command failed (wraps the detector's error with what was being done)."""


def _out(text: str) -> None:
    """Command output on stdout (progress bars and errors go to stderr)."""
    sys.stdout.write(text + "\n")


def _registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry.from_settings(settings)


def _iter_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ConfigurationError(
            "reading Parquet needs pyarrow, which is not installed (pip install pyarrow)"
        ) from e
    for batch in pq.ParquetFile(path).iter_batches():
        yield from batch.to_pylist()


def _iter_kafka(settings: Settings, topic: str, start: datetime, end: datetime) -> Any:
    """Values of ``topic`` with record timestamps in ``[start, end)``, every partition."""
    from kafka import KafkaConsumer, TopicPartition

    if not settings.bootstrap_list:
        raise ConfigurationError("training from a topic needs LABSTREAM_BOOTSTRAP_SERVERS (a running broker)")
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_list,
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=5000,
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            raise ConfigurationError(f"topic {topic!r} does not exist or has no partitions")
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        starts = consumer.offsets_for_times(dict.fromkeys(parts, start_ms))
        todo = set()
        for tp in parts:
            found = starts.get(tp)
            if found is not None and found.offset < ends[tp]:
                consumer.seek(tp, found.offset)
                todo.add(tp)
        while todo:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for rec in records:
                    if rec.timestamp >= end_ms or rec.offset >= ends[tp] - 1:
                        todo.discard(tp)
                    if rec.timestamp < end_ms:
                        try:
                            yield json.loads(rec.value)
                        except (json.JSONDecodeError, UnicodeDecodeError):
                            yield {}
                    if tp not in todo:
                        consumer.pause(tp)
                        break
    finally:
        consumer.close()


def _train(args: argparse.Namespace, settings: Settings) -> int:
    reg = _registry(settings)
    if args.synthetic:
        rows, ids, _ = synthetic_normal_traffic(n_devices=args.devices, minutes=args.minutes, seed=args.seed)
        data = MetricsData(rows, ids, _, 0)
        summary: dict[str, Any] = {
            "source": "synthetic",
            "synthetic": True,
            "generator": "detector.synthetic",
            "seed": args.seed,
        }
    else:
        if args.input:
            path = Path(args.input)
            records = _iter_parquet(path) if path.suffix.lower() == ".parquet" else iter_file(path)
            summary = {"source": "file", "synthetic": False, "path": str(path)}
        else:
            records = _iter_kafka(settings, args.topic, args.start, args.end)
            summary = {
                "source": "kafka",
                "synthetic": False,
                "topic": args.topic,
                "start": args.start.isoformat(),
                "end": args.end.isoformat(),
            }
        data = from_records(tqdm(records, desc="reading events", unit=" events", file=sys.stderr))
    summary.update(data.summary())
    try:
        det = train_detector(
            data.rows,
            data.device_ids,
            seed=args.seed,
            target_false_alert_rate=settings.target_false_alert_rate,
            events_per_window=settings.alert_window_s / 60.0,
        )
        version = reg.save(det, summary)
        if args.promote:
            reg.promote(version)
    except DetectorError as e:
        raise ModelCommandError(f"training failed: {e}") from e
    _out(
        json.dumps(
            {
                "version": version,
                "promoted": bool(args.promote),
                "data": summary,
                "thresholds": det.thresholds,
            },
            indent=2,
        )
    )
    return 0


def _shuttle_rows() -> Any:
    import gzip

    import numpy as np

    spec = importlib.util.find_spec("river")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "shuttle.csv.gz"
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",", skiprows=1)
    return data[:, :9], data[:, 9].astype(int)


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from detector.evaluation import evaluate, shuttle_auc
    from detector.report import summary_table, write_report

    reg = _registry(settings)
    det = None
    if args.version:
        version = reg.current_version() if args.version == "current" else args.version
        if version is None:
            raise ModelCommandError("no promoted model to evaluate")
        det = reg.load(version)
    report, curves = evaluate(
        args.seed,
        target_false_alert_rate=settings.target_false_alert_rate,
        alert_window_s=settings.alert_window_s,
        det=det,
    )
    shuttle = _shuttle_rows()
    if shuttle is None:
        report["shuttle_error"] = "river is not installed"
    else:
        report["shuttle"] = shuttle_auc(shuttle[0], shuttle[1], seed=args.seed)
    report["evaluated_at"] = datetime.now().astimezone().isoformat()
    json_path, png_path = write_report(report, curves, Path(args.out))
    if det is not None:
        reg.update_metadata(
            det.version,
            evaluation={
                "seed": args.seed,
                "evaluated_at": report["evaluated_at"],
                "incident_level": report["ours"]["incident_level"]["overall"],
                "event_level": report["ours"]["event_level"]["overall"],
                "shuttle": report.get("shuttle"),
            },
        )
    _out(summary_table(report))
    _out(f"report: {json_path}  figure: {png_path}")
    return 0


def _generalise(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from detector.generalisation import DATASETS, evaluate_sets

    rows = evaluate_sets(
        tuple(args.seeds),
        target_false_alert_rate=settings.target_false_alert_rate,
        alert_window_s=settings.alert_window_s,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "generalisation.json"
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    _out(
        f"{'data set (SYNTHETIC)':<30} {'F1 min-max':>13} {'recall min':>10} "
        f"{'false/dev-day max':>17}  first-reading incidents"
    )
    for ds in DATASETS:
        mine = [r for r in rows if r["dataset"] == ds.name]
        f1 = [r["f1"] for r in mine]
        early = ", ".join(r["first_reading_incidents_detected"] or "-" for r in mine)
        _out(
            f"{ds.name:<30} {min(f1):>6.3f}-{max(f1):.3f} {min(r['recall'] for r in mine):>10.3f} "
            f"{max(r['false_alerts_per_device_day'] for r in mine):>17.2f}  {early}"
        )
    _out(f"per seed, with each generator's parameters: {path}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    reg = _registry(settings)
    current = reg.current_version()
    for m in reg.versions():
        ev = (m.get("evaluation") or {}).get("incident_level", {})
        _out(
            f"{'*' if m['version'] == current else ' '} {m['version']}  trained {m['trained_at'][:19]}  "
            f"source={m['data'].get('source')} synthetic={m['data'].get('synthetic')} "
            f"events={m['data'].get('events')} f1={ev.get('f1', '-')}"
        )
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    try:
        _registry(settings).promote(args.version)
    except DetectorError as e:
        raise ModelCommandError(f"cannot promote {args.version}: {e}") from e
    _out(f"promoted {args.version}")
    return 0


def _sign(args: argparse.Namespace, settings: Settings) -> int:
    try:
        _registry(settings).sign(args.version)
    except DetectorError as e:
        raise ModelCommandError(f"cannot sign {args.version}: {e}") from e
    _out(f"signed {args.version}")
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    try:
        version = _registry(settings).rollback()
    except DetectorError as e:
        raise ModelCommandError(f"cannot roll back: {e}") from e
    _out(f"rolled back to {version}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``model`` and its subcommands."""
    model = subparsers.add_parser("model", help="train, evaluate and version the anomaly model")
    sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    train = sub.add_parser("train", help="train a model version from recorded events or synthetic data")
    src = train.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="JSONL or CSV file of network-metrics events (Parquet needs pyarrow)")
    src.add_argument("--topic", help="read this Kafka topic between --start and --end")
    src.add_argument("--synthetic", action="store_true", help="SYNTHETIC demo traffic (marked in metadata)")
    train.add_argument("--start", type=datetime.fromisoformat, help="ISO-8601 start (with --topic)")
    train.add_argument("--end", type=datetime.fromisoformat, help="ISO-8601 end (with --topic)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--devices", type=int, default=50, help="synthetic devices")
    train.add_argument("--minutes", type=int, default=1440, help="synthetic minutes per device")
    train.add_argument("--promote", action="store_true", help="promote the new version")
    train.set_defaults(handler=_checked_train)
    ev = sub.add_parser(
        "evaluate", help="labelled incident stream: ours vs the first design, Shuttle ROC-AUC"
    )
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", default="reports/detector", help="directory for report.json and report.png")
    ev.add_argument(
        "--version",
        help="evaluate a stored version ('current' for the promoted one) and record "
        "the result in its metadata; default: a fresh model trained on synthetic traffic",
    )
    ev.set_defaults(handler=_evaluate)
    gen = sub.add_parser(
        "generalise", help="incident-level figures on generator variants the model was not shaped on"
    )
    gen.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    gen.add_argument("--out", default="reports/detector", help="directory for generalisation.json")
    gen.set_defaults(handler=_generalise)
    sub.add_parser("list", help="stored versions (* = promoted)").set_defaults(handler=_list)
    pr = sub.add_parser("promote", help="make VERSION current (atomic pointer swap)")
    pr.add_argument("version")
    pr.set_defaults(handler=_promote)
    sub.add_parser("rollback", help="re-promote the previously promoted version").set_defaults(
        handler=_rollback
    )
    sg = sub.add_parser(
        "sign",
        help="vouch for VERSION saved before models were signed (or under an old key): "
        "checks its checksum and types, then signs it with the current key",
    )
    sg.add_argument("version")
    sg.set_defaults(handler=_sign)


def _checked_train(args: argparse.Namespace, settings: Settings) -> int:
    if args.topic and (args.start is None or args.end is None):
        raise ConfigurationError("--topic needs --start and --end (ISO-8601 with a timezone)")
    return _train(args, settings)
