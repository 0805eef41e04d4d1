"""Drift: a shifted feature drifts, alone; an unshifted stream never does; reports once per window."""

from __future__ import annotations

import numpy as np
import pytest

from detector import DriftMonitor, psi, synthetic_normal_traffic
from detector.registry import ModelRegistry


@pytest.fixture(scope="module")
def live_rows() -> np.ndarray:
    """The training fleet (seed 42) on its second day: same devices, new readings."""
    rows, _, t = synthetic_normal_traffic(n_devices=50, minutes=2 * 1440, seed=42)
    return rows[t >= 86_400.0]


def _reports(monitor: DriftMonitor, rows: np.ndarray, batch: int = 500) -> list:
    out = []
    for i in range(0, rows.shape[0], batch):
        r = monitor.update(rows[i : i + batch])
        if r is not None:
            out.append(r)
    return out


def test_unshifted_stream_never_drifts(detector, live_rows):
    mon = DriftMonitor(detector.drift_reference, window=2000, threshold=0.25)
    reports = _reports(mon, live_rows)
    assert len(reports) == live_rows.shape[0] // 2000
    assert all(r.drifted == [] for r in reports), [r.psi for r in reports if r.drifted]


@pytest.mark.parametrize(
    ("col", "feature", "factor"),
    [(1, "latency_ms", 1.8), (4, "error_rate", 3.0), (3, "connection_count", 2.0)],
)
def test_one_shifted_feature_drifts_alone(detector, live_rows, col, feature, factor):
    shifted = live_rows.copy()
    shifted[:, col] *= factor
    mon = DriftMonitor(detector.drift_reference, window=2000, threshold=0.25)
    reports = _reports(mon, shifted[:10_000])
    assert len(reports) == 5
    assert all(r.drifted == [feature] for r in reports)
    assert all(r.psi[feature] > 0.25 for r in reports)


def test_reference_is_in_the_metadata(session_registry: ModelRegistry, detector):
    meta = session_registry.metadata(detector.version)
    assert meta["drift_reference"]["features"] == detector.drift_reference["features"]
    mon = DriftMonitor(meta["drift_reference"], window=100)
    assert mon.update(np.ones((99, 5))) is None
    assert mon.update(np.ones((1, 5))) is not None  # once per window


def test_psi_is_zero_for_identical_and_large_for_disjoint():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) > 5
