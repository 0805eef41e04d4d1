"""Feature drift: population stability index (PSI) of a rolling window against training.

The reference is stored with the model: for each of the five metrics, the
interior bin edges of ten training quantile bins and the training proportions
in each bin. :class:`DriftMonitor` counts live events into the same bins over
tumbling windows of ``window`` events and reports once per completed window.
PSI = sum((live - ref) * ln(live / ref)); 0.1 is a moderate shift, 0.25 a
large one (the usual rule of thumb, and the settings' default threshold).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = reference_from(rng.normal(size=(5000, 5)))
>>> mon = DriftMonitor(ref, window=1000, threshold=0.25)
>>> shifted = rng.normal(size=(1000, 5)); shifted[:, 1] += 2
>>> mon.update(shifted).drifted
['latency_ms']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas import METRIC_FIELDS

_BINS = 10
_EPS = 1e-4


def reference_from(rows: np.ndarray, bins: int = _BINS) -> dict[str, Any]:
    """Per-feature interior bin edges (training quantiles) and training proportions, JSON-ready."""
    rows = np.asarray(rows, dtype=np.float64)
    edges, props = [], []
    for j in range(rows.shape[1]):
        e = np.unique(np.quantile(rows[:, j], np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(e, rows[:, j], side="right"), minlength=e.size + 1)
        edges.append(e.tolist())
        props.append((counts / counts.sum()).tolist())
    return {"features": list(METRIC_FIELDS), "edges": edges, "proportions": props}


def psi(live: np.ndarray, ref: np.ndarray) -> float:
    """Population stability index of two proportion vectors (smoothed so empty bins stay finite)."""
    p = (np.asarray(live, dtype=np.float64) + _EPS) / (1.0 + _EPS * len(live))
    q = (np.asarray(ref, dtype=np.float64) + _EPS) / (1.0 + _EPS * len(ref))
    return float(np.sum((p - q) * np.log(p / q)))


@dataclass(frozen=True, slots=True)
class DriftReport:
    """PSI of every feature over one window, and the features beyond the threshold (worst first)."""

    psi: dict[str, float]
    drifted: list[str]
    window: int
    threshold: float


@dataclass(slots=True)
class DriftMonitor:
    """Tumbling-window PSI of live rows against a model's training reference."""

    reference: dict[str, Any]
    window: int = 2000
    threshold: float = 0.25
    _edges: list[np.ndarray] = field(init=False)
    _ref: list[np.ndarray] = field(init=False)
    _counts: list[np.ndarray] = field(init=False)
    _seen: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("window must be positive")
        self._edges = [np.asarray(e, dtype=np.float64) for e in self.reference["edges"]]
        self._ref = [np.asarray(p, dtype=np.float64) for p in self.reference["proportions"]]
        self._counts = [np.zeros(len(p), dtype=np.int64) for p in self._ref]

    def update(self, rows: np.ndarray) -> DriftReport | None:
        """Count ``rows`` (n, 5); return a report when a window completes (the last one if several)."""
        reports = self.update_all(rows)
        return reports[-1][1] if reports else None

    def update_all(self, rows: np.ndarray) -> list[tuple[int, DriftReport]]:
        """Count ``rows`` (n, 5); every window completed, as ``(index of its last row, report)``.

        The windows are counted in rows, so how ``rows`` are cut into calls does not change them.
        """
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(self._edges))
        reports: list[tuple[int, DriftReport]] = []
        done = 0
        while rows.shape[0]:
            take = min(self.window - self._seen, rows.shape[0])
            chunk, rows = rows[:take], rows[take:]
            for j, e in enumerate(self._edges):
                self._counts[j] += np.bincount(
                    np.searchsorted(e, chunk[:, j], side="right"), minlength=e.size + 1
                )
            self._seen += take
            done += take
            if self._seen == self.window:
                reports.append((done - 1, self._report()))
        return reports

    def _report(self) -> DriftReport:
        names = self.reference["features"]
        values = {n: psi(c / self._seen, r) for n, c, r in zip(names, self._counts, self._ref, strict=True)}
        drifted = sorted((n for n, v in values.items() if v > self.threshold), key=lambda n: -values[n])
        for c in self._counts:
            c[:] = 0
        self._seen = 0
        return DriftReport(psi=values, drifted=drifted, window=self.window, threshold=self.threshold)
