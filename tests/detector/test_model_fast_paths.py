"""The detector's fast paths give exactly what the plain ones give."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from detector import synthetic_normal_traffic
from detector.model import _FLAT_FOREST_MAX_ROWS, log_features


def _x(detector, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.abs(rng.standard_normal((n, 5)) * [0.02, 80.0, 0.4, 300.0, 0.02])
    x = (log_features(rows) - detector.g_center) / detector.g_scale
    # far outside, exactly on zero, and every training threshold's neighbourhood gets hit by the spread
    return np.vstack([x, 4 * x, -3 * x, np.zeros((1, 5))])


@pytest.mark.parametrize("n", [1, 7, 60, 120])
def test_flat_forest_is_bit_identical_to_scikit_learn(detector, n):
    x = _x(detector, n, seed=n)
    assert x.shape[0] <= _FLAT_FOREST_MAX_ROWS
    assert np.array_equal(detector._forest_scores(x), detector.forest.score_samples(x))  # noqa: SLF001


def test_flat_forest_leaves_large_and_non_finite_input_to_scikit_learn(detector):
    x = _x(detector, _FLAT_FOREST_MAX_ROWS, seed=1)
    assert np.array_equal(detector._forest_scores(x), detector.forest.score_samples(x))  # noqa: SLF001
    x[0, 0] = np.nan
    assert np.array_equal(detector._forest_scores(x), detector.forest.score_samples(x))  # noqa: SLF001


def test_score_anomalies_matches_score_batch(detector):
    rows, ids, _ = synthetic_normal_traffic(n_devices=30, minutes=60, seed=5)
    rows = rows.copy()
    rows[::97] *= 40.0  # spikes, in warm-up and after it
    a, b = {}, {}
    verdicts = detector.score_batch(rows, ids, a)
    scores, anomalies = detector.score_anomalies(rows, ids, b)
    assert a == b
    assert anomalies, "the spikes must be flagged"
    assert scores.tolist() == [v.score for v in verdicts]
    assert sorted(anomalies) == [i for i, v in enumerate(verdicts) if v.is_anomaly]
    for i, v in anomalies.items():
        assert v == verdicts[i]


def test_without_scikit_learns_private_helper_the_flat_form_is_refused(detector, monkeypatch):
    # the contract test for sklearn.ensemble._iforest._average_path_length (docs/architecture.md):
    # an upgrade that moves it must leave scoring on the plain path, not break it
    from detector.model import _FlatForest

    assert _FlatForest.of(detector.forest) is not False  # the helper is there today
    monkeypatch.setitem(sys.modules, "sklearn.ensemble._iforest", None)  # import now raises ImportError
    assert _FlatForest.of(detector.forest) is False
