"""The global regime (a device's first readings, /analyze) flags readings far outside the whole fleet."""

from __future__ import annotations

import numpy as np

from detector import synthetic_normal_traffic, train_detector
from detector.model import log_features


def _detector():
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=300, seed=3)
    return train_detector(rows, ids, seed=3), rows


def test_one_extreme_feature_is_an_anomaly_with_severity_by_distance() -> None:
    det, rows = _detector()
    typical = np.median(rows, axis=0)
    far = typical.copy()
    far[1] = 2500.0  # latency: two orders of magnitude above the fleet
    near = typical.copy()
    near[1] = float(rows[:, 1].max()) * 1.5
    v_far, v_near, v_typ = det.score_batch(np.array([far, near, typical]), ["a", "b", "c"], {})
    assert v_far.is_anomaly and v_far.severity in ("medium", "high")
    assert [r["feature"] for r in v_far.reasons][0] == "latency_ms"
    assert v_near.score < v_far.score
    assert not v_typ.is_anomaly


def test_envelope_adds_no_false_alerts_on_the_training_data() -> None:
    det, rows = _detector()
    scores = det.global_scores(rows)
    forest_only = det.g_cal.transform(
        -det.forest.score_samples((log_features(rows) - det.g_center) / det.g_scale)
    )
    # on the readings it was trained on, the envelope never raises a score
    assert np.array_equal(scores, forest_only)
