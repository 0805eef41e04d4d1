"""Scoring: the Verdict contract, per-device baselines, hot devices, poisoning, speed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector import Detector, Verdict, synthetic_normal_traffic
from schemas import METRIC_FIELDS


def _steady(n: int, level: list[float], seed: int = 0, jitter: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.array(level) * (1.0 + rng.normal(0.0, jitter, (n, 5)))
    rows[:, 3] = np.round(rows[:, 3])
    return np.clip(rows, 0.0, None)


def test_verdict_contract_and_baselines_written_back(detector):
    rows, ids, _ = synthetic_normal_traffic(n_devices=4, minutes=50, seed=11)
    baselines: dict = {}
    verdicts = detector.score_batch(rows, ids, baselines)
    assert len(verdicts) == len(rows) and all(isinstance(v, Verdict) for v in verdicts)
    assert set(baselines) == set(ids)
    assert all(b["n"] == 50 for b in baselines.values())
    json.dumps(baselines)  # a worker writes them to a Faust table
    normal = [v for v in verdicts if not v.is_anomaly]
    assert normal and all(v.severity is None and v.reasons == [] for v in normal)
    assert normal[0].recommendations == ["Continue normal monitoring", "No immediate action required"]


def test_batches_equal_one_by_one(detector):
    rows, ids, _ = synthetic_normal_traffic(n_devices=6, minutes=60, seed=12)
    rows[300, 1] *= 6
    b1: dict = {}
    whole = detector.score_arrays(rows, ids, b1)
    b2: dict = {}
    single = [detector.score_arrays(rows[i : i + 1], ids[i : i + 1], b2) for i in range(len(ids))]
    np.testing.assert_allclose(whole.score, np.concatenate([s.score for s in single]))
    assert b1 == b2


def test_hot_device_is_normal_once_warmed_up_but_its_spike_is_not(detector):
    hot = [0.002, 60.0, 0.85, 400.0, 0.002]
    rows = _steady(200, hot)
    baselines: dict = {}
    verdicts = detector.score_batch(rows, ["hot"] * 200, baselines)
    warmup = detector.params.warmup
    assert not any(v.is_anomaly for v in verdicts[warmup:])
    spike = np.array([[0.002, 240.0, 0.85, 400.0, 0.002]])
    [v] = detector.score_batch(spike, ["hot"], baselines)
    assert v.is_anomaly and v.severity in {"low", "medium", "high"}
    assert v.reasons[0]["feature"] == "latency_ms"
    assert v.reasons[0]["expected"] == pytest.approx(60.0, rel=0.05)
    assert v.reasons[0]["deviation"] > 10
    assert set(v.reasons[0]) == {"feature", "value", "expected", "deviation"}
    assert "Trace the path (traceroute) for congestion or a route change" in v.recommendations


def test_anomalies_do_not_poison_the_baseline(detector):
    level = [0.001, 20.0, 0.3, 100.0, 0.001]
    baselines: dict = {}
    detector.score_batch(_steady(100, level), ["d"] * 100, baselines)
    before = list(baselines["d"]["mean"])
    storm = _steady(30, level, seed=1)
    storm[:, 4] = 0.2  # error storm for half an hour
    verdicts = detector.score_batch(storm, ["d"] * 30, baselines)
    assert all(v.is_anomaly for v in verdicts)
    assert baselines["d"]["mean"][4] == pytest.approx(before[4])
    # the recent-level statistic needs a few events to forget the storm, then all is normal again
    after = detector.score_batch(_steady(20, level, seed=2), ["d"] * 20, baselines)
    assert not any(v.is_anomaly for v in after[10:])


def test_warmup_uses_the_global_model(detector):
    crazy = np.array([[0.6, 900.0, 1.0, 20000.0, 0.5]])
    [v] = detector.score_batch(crazy, ["new"], {})
    assert v.is_anomaly and v.severity in {"medium", "high"}  # IsolationForest scores saturate
    assert {r["feature"] for r in v.reasons} <= set(METRIC_FIELDS)


def test_bad_shapes_are_rejected(detector):
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        detector.score_batch(np.zeros((2, 4)), ["a", "b"], {})


def test_absurd_but_finite_readings_do_not_overflow(detector):
    baselines: dict = {}
    detector.score_batch(_steady(40, [0.001, 20.0, 0.4, 100.0, 0.001]), ["d"] * 40, baselines)
    absurd = np.array([[1.0, 1e308, 1.0, 1e20, 1e308]])
    for b in (baselines, {}):
        [v] = detector.score_batch(absurd, ["d"], b)
        assert v.is_anomaly and np.isfinite(v.score)
        assert all(np.isfinite(r["deviation"]) for r in v.reasons)
    json.dumps(baselines, allow_nan=False)


def test_warm_up_scoring_does_not_depend_on_batch_boundaries(detector: Detector) -> None:
    """An anomaly in a device's warm-up does not count towards it: the rows after it are still in
    warm-up, in one batch as one by one (a batch once judged them warmed up and missed them)."""
    rng = np.random.default_rng(5)
    n = detector.params.warmup + 10
    rows = np.column_stack(
        [
            np.full(n, 0.001),
            20 + rng.normal(0, 1, n),
            np.full(n, 0.4),
            np.full(n, 100.0),
            np.full(n, 0.001),
        ]
    )
    rows[2:8, 1] = 5000.0  # six absurd latencies early in warm-up
    rows[n - 12, 1] = 5000.0  # and one whose row number is past warm-up, its count not
    ids = ["r-warm"] * n
    whole = detector.score_arrays(rows, ids, {})
    singles: dict[str, dict] = {}
    one = [detector.score_arrays(rows[i : i + 1], ids[i : i + 1], singles) for i in range(n)]
    assert whole.is_anomaly.tolist() == [bool(s.is_anomaly[0]) for s in one]
    assert whole.score.tolist() == pytest.approx([float(s.score[0]) for s in one])
    assert whole.is_anomaly[n - 12]
