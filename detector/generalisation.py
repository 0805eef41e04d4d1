"""Detection on streams the model was not shaped on: generator variants, reported per data set.

The detector is always trained as ``labstream model evaluate`` trains it (synthetic normal traffic
of 50 other devices, default generator, another seed); each data set changes the *evaluated*
stream's generator (:class:`detector.synthetic.Variation`), its size, or where incidents start.
Every data set is SYNTHETIC. Daily-cycle phases are drawn per device in every set (uniform over the
day), so phases always differ from training; the sets vary the amplitudes.
Scoring and the incident rule are the evaluation's (:func:`detector.evaluation.score_stream`,
:mod:`detector.episodes`), which the worker ships.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from detector.evaluation import score_stream
from detector.incidents import incident_stream
from detector.metrics import incident_level
from detector.model import Detector
from detector.synthetic import DEFAULT, Variation, synthetic_normal_traffic
from detector.training import train_detector


@dataclass(frozen=True, slots=True)
class DataSet:
    name: str
    variation: Variation = DEFAULT
    n_devices: int = 30
    minutes: int = 2 * 1440
    per_type: int = 10
    at_start: int = 0
    quiet_minutes: int = 120
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


DATASETS: tuple[DataSet, ...] = (
    DataSet("default", notes="the generator the model's thresholds were chosen on"),
    DataSet(
        "strong daily cycle",
        Variation(cycle=2.5, latency_cycle=0.3),
        notes="±37 % util, ±50 % conns, ±30 % latency",
    ),
    DataSet("noise x2", Variation(noise=2.0)),
    DataSet("noise x3", Variation(noise=3.0)),
    DataSet(
        "near limits (half the fleet)",
        Variation(near_limit=0.5),
        notes="util 85-95 %, 1,000-8,000 connections",
    ),
    DataSet(
        "incidents at first readings", at_start=10, quiet_minutes=0, notes="10 more incidents from minute 0"
    ),
    DataSet(
        "the issue's shape",
        Variation(cycle=2.0, latency_cycle=0.2, noise=2.0, near_limit=0.3),
        n_devices=40,
        minutes=14 * 60,
        per_type=3,
        at_start=5,
        quiet_minutes=0,
        notes="40 devices, 14 h, all of the above at once",
    ),
)


def _detector(seed: int, target_false_alert_rate: float, alert_window_s: float) -> Detector:
    rows, ids, _ = synthetic_normal_traffic(n_devices=50, minutes=1440, seed=seed + 1)
    return train_detector(
        rows,
        ids,
        seed=seed,
        target_false_alert_rate=target_false_alert_rate,
        events_per_window=alert_window_s / 60.0,
    )


def evaluate_sets(
    seeds: tuple[int, ...] = (0, 1, 2),
    *,
    target_false_alert_rate: float = 0.00025,
    alert_window_s: float = 300.0,
    datasets: tuple[DataSet, ...] = DATASETS,
) -> list[dict[str, Any]]:
    """Per data set and seed: incident-level precision, recall, F1, false alerts per device-day,
    and the recall of the incidents that start at a device's first readings."""
    out = []
    for seed in seeds:
        det = _detector(seed, target_false_alert_rate, alert_window_s)
        for ds in datasets:
            stream = incident_stream(
                seed=seed,
                n_devices=ds.n_devices,
                minutes=ds.minutes,
                per_type=ds.per_type,
                quiet_minutes=ds.quiet_minutes,
                variation=ds.variation,
                at_start=ds.at_start,
            )
            _, flags, _ = score_stream(det, stream)
            o = incident_level(stream, flags, alert_window_s)["overall"]
            early = [k for k, inc in enumerate(stream.incidents) if inc.start == 0.0]
            hit_early = sum(bool((flags & (stream.incident == k)).any()) for k in early)
            out.append(
                {
                    "dataset": ds.name,
                    "seed": seed,
                    "parameters": {
                        **asdict(ds.variation),
                        "devices": ds.n_devices,
                        "minutes": ds.minutes,
                        "incidents": len(stream.incidents),
                        "at_start": ds.at_start,
                    },
                    "f1": o["f1"],
                    "precision": o["precision"],
                    "recall": o["recall"],
                    "false_alerts": o["false_alerts"],
                    "false_alerts_per_device_day": o["false_alerts_per_device_day"],
                    "first_reading_incidents_detected": f"{hit_early}/{len(early)}" if early else None,
                    "false_alert_reading_index": _false_alert_positions(stream, flags, alert_window_s),
                }
            )
    return out


def _false_alert_positions(stream: Any, flags: np.ndarray, window_s: float) -> list[int]:
    """For each false alert: how many readings of its device came before it (warm-up is 30)."""
    from detector.metrics import raise_alerts

    alerts = np.flatnonzero(raise_alerts(flags, stream.device, stream.t, window_s))
    out = []
    for i in alerts:
        d = stream.device[i]
        if any(inc.device == d and inc.start <= stream.t[i] < inc.end + window_s for inc in stream.incidents):
            continue
        out.append(int(((stream.device == d) & (stream.t < stream.t[i])).sum()))
    return out
