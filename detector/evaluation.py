"""``labstream model evaluate``: our detector and the first design's, side by side, same stream.

The first design (the seed lab): a StandardScaler + IsolationForest(contamination=0.05,
random_state=42) trained on its ``prepare_network_data()`` (uniform random numbers with
injected outliers), one event per call: ``predict`` on one row decides ``is_anomaly``,
``score_samples`` on that row gives the score, fixed cut-offs -0.1/-0.3 give the risk
level. Both are stateless per row, so scoring all rows in one call gives exactly the
per-call results (a test checks this); only the timing differs, which the benchmark
measures.

Our detector is trained on SYNTHETIC normal traffic from other devices and another seed
than the evaluation stream, then scores the stream in batches of 1,000 events in time
order, as the worker does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import precision_recall_curve, roc_auc_score
from sklearn.preprocessing import StandardScaler

from detector.incidents import LabelledStream, incident_stream
from detector.metrics import __doc__ as metrics_doc
from detector.metrics import event_level, incident_level
from detector.model import Detector
from detector.synthetic import synthetic_normal_traffic
from detector.training import train_detector

BATCH = 1000


@dataclass(frozen=True, slots=True)
class FirstDesign:
    """The seed's NetworkAnomalyDetector, reproduced without pandas or joblib."""

    scaler: StandardScaler
    forest: IsolationForest

    @classmethod
    def train(cls, seed: int) -> FirstDesign:
        rng = np.random.default_rng(seed)
        data = np.column_stack(
            [
                rng.uniform(0, 0.05, 1000),
                rng.normal(20, 5, 1000),
                rng.uniform(0.1, 0.9, 1000),
                rng.poisson(100, 1000).astype(np.float64),
                rng.exponential(0.01, 1000),
            ]
        )
        data[::50, 0] = rng.uniform(0.1, 0.3, 20)
        data[::100, 1] = rng.uniform(100, 200, 10)
        scaler = StandardScaler().fit(data)
        forest = IsolationForest(contamination=0.05, random_state=42).fit(scaler.transform(data))
        return cls(scaler, forest)

    def predict(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(is_anomaly, score_samples)`` per row, as its ``predict`` did for each single row."""
        x = self.scaler.transform(rows)
        return self.forest.predict(x) == -1, self.forest.score_samples(x)

    @staticmethod
    def risk_level(score: float) -> str:
        return "low" if score > -0.1 else ("medium" if score > -0.3 else "high")


def score_stream(det: Detector, stream: LabelledStream) -> tuple[np.ndarray, np.ndarray, float]:
    """Our scores and flags over the stream in worker-sized batches; and seconds spent."""
    baselines: dict[str, dict] = {}
    scores, flags = [], []
    t0 = time.perf_counter()
    for i in range(0, stream.t.size, BATCH):
        s = det.score_arrays(stream.rows[i : i + BATCH], stream.device_ids[i : i + BATCH], baselines)
        scores.append(s.score)
        flags.append(s.is_anomaly)
    return np.concatenate(scores), np.concatenate(flags), time.perf_counter() - t0


def _severity(det: Detector, scores: np.ndarray) -> np.ndarray:
    """The worker's severity of each reading's score (the bands of :attr:`Detector.thresholds`)."""
    return np.where(scores >= det.high, "high", np.where(scores >= det.medium, "medium", "low"))


def _pr_auc(label: np.ndarray, score: np.ndarray) -> tuple[float, dict[str, list[float]]]:
    p, r, _ = precision_recall_curve(label, score)
    step = max(1, p.size // 400)
    return float(np.trapezoid(p[::-1], r[::-1])), {
        "precision": p[::step].tolist(),
        "recall": r[::step].tolist(),
    }


def evaluate(
    seed: int = 0,
    *,
    target_false_alert_rate: float = 0.00025,
    alert_window_s: float = 300.0,
    n_devices: int = 30,
    minutes: int = 2 * 1440,
    per_type: int = 10,
    det: Detector | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the evaluation; returns ``(report, curves)`` (curves and raw scores feed the PNG)."""
    if det is None:
        train_rows, train_ids, _ = synthetic_normal_traffic(n_devices=50, minutes=1440, seed=seed + 1)
        det = train_detector(
            train_rows,
            train_ids,
            seed=seed,
            target_false_alert_rate=target_false_alert_rate,
            events_per_window=alert_window_s / 60.0,
        )
    stream = incident_stream(seed=seed, n_devices=n_devices, minutes=minutes, per_type=per_type)
    ours, our_flags, secs = score_stream(det, stream)
    first = FirstDesign.train(seed)
    first_flags, first_raw = first.predict(stream.rows)
    first_score = -first_raw  # higher = more anomalous, for the curves
    label = stream.label
    our_ap, our_curve = _pr_auc(label, ours)
    first_ap, first_curve = _pr_auc(label, first_score)
    risk = np.where(first_raw > -0.1, "low", np.where(first_raw > -0.3, "medium", "high"))
    report = {
        "seed": seed,
        "definitions": {"comparison": (__doc__ or "").strip(), "metrics": (metrics_doc or "").strip()},
        "stream": {
            "synthetic": True,
            "devices": n_devices,
            "simulated_minutes": minutes,
            "events": int(label.size),
            "events_per_device_per_minute": 1,
            "incidents": len(stream.incidents),
            "incident_events": int(label.sum()),
            "alert_window_s": alert_window_s,
        },
        "ours": {
            "model_version": det.version,
            "thresholds": det.thresholds,
            "incident_level": incident_level(stream, our_flags, alert_window_s, _severity(det, ours)),
            "event_level": event_level(stream, our_flags),
            "pr_auc_events": round(our_ap, 4),
            "scoring_events_per_s": round(label.size / secs),
        },
        "first_design": {
            "incident_level": incident_level(stream, first_flags, alert_window_s),
            "event_level": event_level(stream, first_flags),
            "pr_auc_events": round(first_ap, 4),
            "risk_levels": {k: int((risk == k).sum()) for k in ("low", "medium", "high")},
        },
    }
    curves = {
        "ours": our_curve,
        "first": first_curve,
        "label": label,
        "our_scores": ours,
        "first_scores": first_score,
        "threshold": det.threshold,
    }
    return report, curves


def shuttle_auc(rows: np.ndarray, anomaly: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """ROC-AUC on River's Shuttle (UCI Statlog): fit on half the normal class, test on the rest.

    Shuttle has nine features, no devices and no time order, so each of our two scoring regimes is
    applied as it would be to one device: (a) the deviation score, root-sum-square of robust
    z-scores against the training half's median and MAD (our warmed-up baseline regime); (b) the
    global regime, an IsolationForest on the standardised features (100 trees, 256 samples).
    """
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(anomaly == 0)
    train = rng.choice(normal, size=normal.size // 2, replace=False)
    test = np.setdiff1d(np.arange(anomaly.size), train)
    x_train, x_test, y = rows[train].astype(np.float64), rows[test].astype(np.float64), anomaly[test]
    med = np.median(x_train, axis=0)
    mad = np.maximum(1.4826 * np.median(np.abs(x_train - med), axis=0), 1e-3 * (x_train.std(axis=0) + 1))
    dev = np.sqrt((((x_test - med) / mad) ** 2).sum(axis=1))
    center, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-9
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(
        (x_train - center) / scale
    )
    glob = -forest.score_samples((x_test - center) / scale)
    return {
        "dataset": "river.datasets.Shuttle (UCI Statlog Shuttle, normal = class 'Rad Flow')",
        "protocol": "fit on a random half of the normal class; test on the other half plus every anomaly",
        "train_rows": int(train.size),
        "test_rows": int(test.size),
        "test_anomalies": int(y.sum()),
        "roc_auc_deviation_regime": round(float(roc_auc_score(y, dev)), 4),
        "roc_auc_global_regime": round(float(roc_auc_score(y, glob)), 4),
    }
