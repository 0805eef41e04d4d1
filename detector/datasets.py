"""Training data from recorded network-metrics events (JSONL or CSV files, or decoded records).

Each record is validated with :class:`schemas.NetworkMetrics` (missing envelope fields get
their defaults); invalid records are skipped and counted. Events are put in time order
(``occurred_at``, stable), since baselines learn in event order.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from schemas import NetworkMetrics


@dataclass(frozen=True, slots=True)
class MetricsData:
    """Validated events as arrays, in time order."""

    rows: np.ndarray
    device_ids: list[str]
    t: np.ndarray  # seconds since the epoch
    skipped: int

    def summary(self) -> dict[str, Any]:
        return {
            "events": int(self.rows.shape[0]),
            "devices": len(set(self.device_ids)),
            "skipped_invalid": self.skipped,
            "start": float(self.t.min()) if self.t.size else None,
            "end": float(self.t.max()) if self.t.size else None,
        }


def from_records(records: Iterable[dict[str, Any]]) -> MetricsData:
    rows: list[tuple[float, ...]] = []
    ids: list[str] = []
    ts: list[float] = []
    skipped = 0
    for rec in records:
        try:
            ev = NetworkMetrics.model_validate(rec)
        except ValidationError:
            skipped += 1
            continue
        rows.append(ev.features())
        ids.append(ev.device_id)
        ts.append(ev.occurred_at.timestamp())
    t = np.array(ts, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    arr = np.array(rows, dtype=np.float64).reshape(-1, 5)[order]
    return MetricsData(arr, [ids[i] for i in order], t[order], skipped)


def _coerce(rec: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in rec.items() if v not in (None, "")}
    for k in ("packet_loss", "latency_ms", "bandwidth_utilization", "error_rate"):
        if k in out:
            out[k] = float(out[k])
    if "connection_count" in out:
        out["connection_count"] = int(float(out["connection_count"]))
    if "schema_version" in out:
        out["schema_version"] = int(out["schema_version"])
    return out


def iter_file(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a ``.jsonl``/``.json`` (one object per line) or ``.csv`` (header row) file."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as f:
        if suffix == ".csv":
            for rec in csv.DictReader(f):
                try:
                    yield _coerce(rec)
                except ValueError:
                    yield {}
        elif suffix in (".jsonl", ".json", ".ndjson"):
            for line in f:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        yield {}
        else:
            raise ValueError(f"unsupported training file type {suffix!r} (use .jsonl, .csv or .parquet)")
