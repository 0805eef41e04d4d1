"""Map raw anomaly scores to one calibrated scale: rarity in decades.

A calibrated score ``s`` means "one normal (training) event in ``10**s`` scores
at least this high". Below the top ``tail_frac`` of the training scores the map
is the empirical distribution; above it, an exponential tail is fitted to the
excesses (peaks over threshold), so thresholds far out in the tail (1 in 10,000)
are estimated from hundreds of points rather than a handful, and scores beyond
anything seen in training keep growing instead of saturating.

>>> import numpy as np
>>> cal = TailCalibrator.fit(np.random.default_rng(0).exponential(size=50_000))
>>> bool(abs(cal.transform(np.array([np.log(1000.0)]))[0] - 3.0) < 0.1)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_GRID = 256


@dataclass(frozen=True, slots=True)
class TailCalibrator:
    """Empirical body + exponential tail of a training score distribution."""

    grid_scores: np.ndarray  # raw scores at the grid's quantile levels (non-decreasing)
    grid_decades: np.ndarray  # -log10(exceedance probability) at those levels
    s0: float  # raw score where the tail starts
    tail_decades: float  # -log10(tail_frac)
    beta: float  # mean excess over s0 (exponential tail scale)

    @classmethod
    def fit(cls, scores: np.ndarray, tail_frac: float = 0.01) -> TailCalibrator:
        """Fit on the raw scores of normal training events (higher = more anomalous)."""
        s = np.sort(np.asarray(scores, dtype=np.float64))
        if s.size < 200:
            raise ValueError(f"need at least 200 training scores to calibrate, got {s.size}")
        levels = np.linspace(0.0, 1.0 - tail_frac, _GRID)
        grid = np.quantile(s, levels)
        s0 = float(grid[-1])
        excess = s[s > s0] - s0
        beta = float(excess.mean()) if excess.size else 0.0
        beta = max(beta, 1e-9 + 1e-6 * (abs(s0) + float(np.std(s))))
        return cls(
            grid_scores=np.maximum.accumulate(grid),
            grid_decades=-np.log10(1.0 - levels),
            s0=s0,
            tail_decades=-math.log10(tail_frac),
            beta=beta,
        )

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated scores (decades of rarity) of raw scores; vectorised."""
        raw = np.asarray(raw, dtype=np.float64)
        body = np.interp(raw, self.grid_scores, self.grid_decades)
        tail = self.tail_decades + (raw - self.s0) / (self.beta * math.log(10.0))
        return np.where(raw > self.s0, tail, body)

    def raw_threshold(self, decades: float) -> float:
        """The raw score whose calibrated score is ``decades`` (inverse of :meth:`transform`)."""
        if decades >= self.tail_decades:
            return self.s0 + (decades - self.tail_decades) * self.beta * math.log(10.0)
        return float(np.interp(decades, self.grid_decades, self.grid_scores))

    def to_state(self) -> dict[str, object]:
        """Plain types and arrays, for the skops file."""
        return {
            "grid_scores": self.grid_scores,
            "grid_decades": self.grid_decades,
            "s0": self.s0,
            "tail_decades": self.tail_decades,
            "beta": self.beta,
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> TailCalibrator:
        return cls(
            grid_scores=np.asarray(state["grid_scores"], dtype=np.float64),
            grid_decades=np.asarray(state["grid_decades"], dtype=np.float64),
            s0=float(state["s0"]),  # type: ignore[arg-type]
            tail_decades=float(state["tail_decades"]),  # type: ignore[arg-type]
            beta=float(state["beta"]),  # type: ignore[arg-type]
        )
