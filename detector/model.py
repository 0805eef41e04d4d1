"""The anomaly detector: a global model for new devices, per-device baselines once warmed up.

Score scale (``Verdict.score``, higher = more anomalous): calibrated rarity in
decades. A score of ``s`` means one normal training event in ``10**s`` scores at
least this high under the same regime; 0 is perfectly ordinary. Two regimes
share this scale: an event of a device whose baseline is warmed up is scored by
the larger of two statistics against that baseline, each calibrated on its own,
minus log10(2) for having two looks (Bonferroni): the root-sum-square of the event's
robust z-scores (spikes) and of the z-scores of a short EWMA of the device's recent
values (sustained shifts, see :mod:`detector.baseline`), and, in models trained with it, a
CUSUM of the latency's rise (slow drifts; three looks, log10(3)); an event of a device still
in warm-up is scored by a global IsolationForest on the five raw
metrics (log-scaled). ``is_anomaly`` is ``score >= threshold`` (stored with the
model); severity bands are ``threshold + 2`` (medium) and ``threshold + 5`` (high).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from detector.baseline import (
    BaselineParams,
    PassResult,
    index_batch,
    load_states,
    sequential_pass,
    store_states,
)
from detector.calibration import TailCalibrator
from detector.explain import reasons_for, recommendations_for, severity_of

REASON_MIN_DEVIATION = 3.0
_TWO_LOOKS = math.log10(2.0)
# packet loss, latency (ms), utilisation, connections, errors: far beyond any real device
_CEILING = np.array([1.0, 1e7, 1.0, 1e12, 1e6])
# the flat forest walk wins below about this many rows (measured: 0.2 ms vs 12 ms for 7 rows, even at 1,000)
_FLAT_FOREST_MAX_ROWS = 512


@dataclass(frozen=True, slots=True)
class Verdict:
    """The detector's judgement of one event (see the module docstring for the score scale)."""

    score: float
    is_anomaly: bool
    severity: str | None
    reasons: list[dict]
    recommendations: list[str]


@dataclass(frozen=True, slots=True)
class Scores:
    """Vectorised results of a batch, before any per-row Python objects are built."""

    score: np.ndarray
    is_anomaly: np.ndarray
    passed: PassResult


def log_features(rows: np.ndarray) -> np.ndarray:
    """Raw metrics on scales where an IsolationForest split means something (loss and errors in 1/1000)."""
    out = np.empty_like(rows, dtype=np.float64)
    out[:, 0] = np.log1p(1000.0 * rows[:, 0])
    out[:, 1] = np.log1p(rows[:, 1])
    out[:, 2] = rows[:, 2]
    out[:, 3] = np.log1p(rows[:, 3])
    out[:, 4] = np.log1p(1000.0 * rows[:, 4])
    return out


class Detector:
    """A trained detector. Build it with :func:`detector.train_detector` or load it from a registry.

    >>> import numpy as np
    >>> from detector import synthetic_normal_traffic, train_detector
    >>> rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=300, seed=1)
    >>> det = train_detector(rows, ids, seed=1)
    >>> v = det.score_batch(rows[:3], ids[:3], {})[0]
    >>> v.is_anomaly, v.severity
    (False, None)
    """

    def __init__(self, state: dict[str, Any], version: str = "unsaved") -> None:
        self.state = state
        self.version = version
        self.forest: IsolationForest = state["forest"]
        p = state["params"]
        self.params = BaselineParams(
            floors=np.asarray(p["floors"], dtype=np.float64),
            two_sided=np.asarray(p["two_sided"], dtype=bool),
            alpha=float(p["alpha"]),
            warmup=int(p["warmup"]),
            clip_z=float(p["clip_z"]),
            short_alpha=float(p["short_alpha"]),
            short_clip_z=float(p["short_clip_z"]),
            # models saved before the trend existed have none: their baseline is a plain EWMA
            trend_alpha=float(p.get("trend_alpha", 0.0)),
            # one number (rounds 1-2) or one per feature
            trend_cap=np.asarray(p.get("trend_cap", 0.0), dtype=np.float64),
            censor_at_bounds=bool(p.get("censor_at_bounds", False)),
            self_check_after=int(p.get("self_check_after", 0)),
            warmup_learns_all=bool(p.get("warmup_learns_all", False)),
            drop_floor=float(p.get("drop_floor", 0.0)),
            defer_level=bool(p.get("defer_level", False)),
            defer_level_above=float(p.get("defer_level_above", 3.0)),
            # models saved before the CUSUM existed have none: two looks, as before
            cusum_k=float(p.get("cusum_k", 0.0)),
            cusum_clip=float(p.get("cusum_clip", 4.0)),
            cusum_cap=float(p.get("cusum_cap", 30.0)),
            cusum_features=tuple(int(f) for f in p.get("cusum_features", (1,))),
            cusum_margin=float(p.get("cusum_margin", 2.0)),
        )
        # the levels whose value alone may alert at a device's first readings when far beyond the fleet;
        # models saved before this existed: all three
        self.far_levels = tuple(int(f) for f in p.get("far_levels", (1, 2, 3)))
        self.g_center = np.asarray(state["g_center"], dtype=np.float64)
        self.g_scale = np.asarray(state["g_scale"], dtype=np.float64)
        # models saved before the envelope existed have no g_lo/g_hi: the envelope then never fires
        self.g_lo = np.asarray(state.get("g_lo", np.full(5, -np.inf)), dtype=np.float64)
        self.g_hi = np.asarray(state.get("g_hi", np.full(5, np.inf)), dtype=np.float64)
        self.global_median = np.asarray(state["global_median"], dtype=np.float64)
        self.global_scale = np.asarray(state["global_scale"], dtype=np.float64)
        self.g_cal = TailCalibrator.from_state(state["g_cal"])
        self.d_cal = TailCalibrator.from_state(state["d_cal"])
        self.s_cal = TailCalibrator.from_state(state["s_cal"])
        self.c_cal = TailCalibrator.from_state(state["c_cal"]) if state.get("c_cal") is not None else None
        # Bonferroni for the statistics a warmed-up device is judged by (two, or three with the CUSUM)
        self.looks = math.log10(2.0 if self.c_cal is None else 3.0)
        self.threshold = float(state["threshold"])
        self.medium, self.high = self.threshold + 2.0, self.threshold + 5.0
        raw = [
            self.d_cal.raw_threshold(self.threshold + self.looks),
            self.s_cal.raw_threshold(self.threshold + self.looks),
        ]
        if self.c_cal is not None:
            raw.append(self.c_cal.raw_threshold(self.threshold + self.looks))
        self.raw_thresholds = tuple(raw)

    @property
    def drift_reference(self) -> dict[str, Any]:
        """Per-feature training bin edges and proportions, for :class:`detector.DriftMonitor`."""
        return self.state["reference"]

    @property
    def thresholds(self) -> dict[str, float]:
        """Alert threshold and severity bands on the calibrated scale, plus the raw deviation threshold."""
        return {
            "anomaly": self.threshold,
            "medium": self.medium,
            "high": self.high,
            "event_deviation_raw": self.raw_thresholds[0],
            "recent_deviation_raw": self.raw_thresholds[1],
            **({"cusum_raw": self.raw_thresholds[2]} if len(self.raw_thresholds) > 2 else {}),
        }

    def global_scores(self, rows: np.ndarray) -> np.ndarray:
        """Calibrated scores of the global model alone (the warm-up regime).

        An IsolationForest cannot tell "just outside what it saw" from "a hundred times outside":
        its path lengths saturate. So the score is the larger of the forest's calibrated score and
        the fleet envelope's: ``threshold + k`` for a reading ``k`` training standard deviations
        (log scale) beyond the most extreme value of any training reading. Inside the envelope that
        term is below the threshold, so the calibrated false-alert rate is unchanged.
        """
        x = (log_features(rows) - self.g_center) / self.g_scale
        forest = self.g_cal.transform(-self._forest_scores(x))
        above = x - self.g_hi
        below = np.where(self.params.two_sided, self.g_lo - x, -np.inf)
        excess = np.max(np.maximum(above, below), axis=1)
        envelope = np.where(excess > 0, self.threshold + excess, 0.0)
        return np.maximum(forest, envelope)

    def independent_scores(self, rows: np.ndarray, keep: Sequence[int] = ()) -> np.ndarray:
        """The global score of what does not depend on a device's levels: each row with its latency,
        utilisation and connections (except the features in ``keep``) set to the fleet's medians, so
        only packet loss and errors (and ``keep``) count."""
        neutral = np.array(rows, dtype=np.float64)
        levels = [f for f in (1, 2, 3) if f not in keep]
        neutral[:, levels] = self.global_median[levels]
        return self.global_scores(neutral)

    def _forest_scores(self, x: np.ndarray) -> np.ndarray:
        """``self.forest.score_samples(x)``, bit for bit, without scikit-learn's per-call overhead.

        scikit-learn walks the 100 trees one ``tree.apply`` at a time through joblib, input
        validation and config contexts: ~10 ms a call even for a handful of rows, and the worker
        calls it every batch that holds a warm-up device (profiled: ~5 us per event of a 4,000
        batch), usually for a few rows. For up to ``_FLAT_FOREST_MAX_ROWS`` rows all trees are
        walked at once in numpy, with the same float32 input, the same
        comparisons and the same per-tree order of summation. Anything unusual (non-finite input,
        feature subsampling, missing-value splits) goes to scikit-learn itself.
        """
        flat = self.__dict__.get("_flat_forest")
        if flat is None:
            flat = self.__dict__["_flat_forest"] = _FlatForest.of(self.forest)
        if (
            not isinstance(flat, _FlatForest)
            or x.shape[0] > _FLAT_FOREST_MAX_ROWS
            or not np.isfinite(x).all()
        ):
            return self.forest.score_samples(x)
        return flat.score_samples(x)

    def score_arrays(
        self,
        rows: np.ndarray,
        device_ids: Sequence[str],
        baselines: MutableMapping[str, dict],
        *,
        defer_levels: bool = True,
    ) -> Scores:
        """Score a batch and update ``baselines`` in place; arrays only (used by evaluation).

        ``defer_levels=False`` judges a device's first readings by the fleet alone even when the model
        defers level evidence (``BaselineParams.defer_level``): for a reading judged on its own
        (``/analyze``), there are no later readings of the device to wait for.
        """
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != 5 or rows.shape[0] != len(device_ids):
            raise ValueError(f"rows must be (n, 5) with n == len(device_ids); got {rows.shape}")
        # finite but absurd readings (1e308 ms) would overflow the arithmetic: cap at physical ceilings
        rows = np.clip(rows, 0.0, _CEILING)
        devices, inv, occ = index_batch(device_ids)
        state = load_states(devices, baselines)
        # rows whose device may still be in warm-up when its turn comes: a device's count grows only
        # with its normal readings, so "count before the batch + place in the batch" over-estimates
        # it, and a row it wrongly put past warm-up got no global score (a batch-size-dependent miss)
        in_warmup = state[0][inv] < self.params.warmup
        g = np.zeros(rows.shape[0])
        independent = None
        if in_warmup.any():
            g[in_warmup] = self.global_scores(rows[in_warmup])
            if self.params.defer_level and defer_levels:
                independent = np.zeros(rows.shape[0], dtype=bool)
                far_g = g[in_warmup]
                if self.far_levels != (1, 2, 3):  # only these levels may be "far" (see training.FAR_LEVELS)
                    far_g = self.independent_scores(rows[in_warmup], keep=self.far_levels)
                far = far_g >= self.threshold + self.params.defer_level_above
                independent[in_warmup] = far | (self.independent_scores(rows[in_warmup]) >= self.threshold)
        params = self.params if defer_levels else dataclasses.replace(self.params, defer_level=False)
        passed = sequential_pass(
            rows, inv, occ, state, params, self.raw_thresholds, g >= self.threshold, independent
        )
        dev = self.d_cal.transform(passed.dev_raw)
        recent = self.s_cal.transform(passed.smooth_raw)
        best = np.maximum(dev, recent)
        if self.c_cal is not None:
            best = np.maximum(best, self._cusum_decades(passed.cusum_raw))
        score = np.where(passed.warmed, best - self.looks, g)
        store_states(devices, *state, baselines)
        return Scores(score=score, is_anomaly=passed.anomalous, passed=passed)

    def score_batch(
        self,
        rows: np.ndarray,
        device_ids: Sequence[str],
        baselines: MutableMapping[str, dict],
        *,
        defer_levels: bool = True,
    ) -> list[Verdict]:
        """One :class:`Verdict` per row; ``baselines`` is updated in place, in event order
        (``defer_levels``: see :meth:`score_arrays`)."""
        scores, anomalies = self.score_anomalies(rows, device_ids, baselines, defer_levels=defer_levels)
        out: list[Verdict] = []
        for i, score in enumerate(scores.tolist()):
            v = anomalies.get(i)
            out.append(v if v is not None else Verdict(score, False, None, [], recommendations_for(None, [])))
        return out

    def score_anomalies(
        self,
        rows: np.ndarray,
        device_ids: Sequence[str],
        baselines: MutableMapping[str, dict],
        *,
        defer_levels: bool = True,
    ) -> tuple[np.ndarray, dict[int, Verdict]]:
        """Every row's score (an array) and a :class:`Verdict` for each anomalous row only, by row index.

        What :meth:`score_batch` computes, without a Python object per normal row: for a stream
        where anomalies are rare that is most of the cost. ``baselines`` is updated in place.
        """
        s = self.score_arrays(rows, device_ids, baselines, defer_levels=defer_levels)
        flagged = np.flatnonzero(s.is_anomaly).tolist()
        if not flagged:
            return s.score, {}
        rows = np.clip(np.asarray(rows, dtype=np.float64), 0.0, _CEILING)
        scores = s.score
        return s.score, {i: self._anomaly_verdict(rows[i], float(scores[i]), s.passed, i) for i in flagged}

    def _cusum_decades(self, raw: np.ndarray) -> np.ndarray:
        """The CUSUM's calibrated decades; 0 where it is at rest (no rise accumulated).

        Most readings leave the CUSUM at exactly 0, and the calibrator maps 0 to the decades of its
        last zero quantile: without this, every warmed-up reading's score would have that floor.
        """
        assert self.c_cal is not None
        return np.where(raw > 0.0, self.c_cal.transform(raw), 0.0)

    def _anomaly_verdict(self, row: np.ndarray, score: float, p: PassResult, i: int) -> Verdict:
        if p.warmed[i]:  # explain with whichever statistic is the more extreme
            d, s = p.dev_raw[i : i + 1], p.smooth_raw[i : i + 1]
            recent = self.s_cal.transform(s)[0] > self.d_cal.transform(d)[0]
            if self.c_cal is not None:  # a persistent rise (the CUSUM) is explained by the recent average
                c = self._cusum_decades(p.cusum_raw[i : i + 1])[0]
                recent = recent or c > self.d_cal.transform(d)[0]
            expected, z = p.expected[i], (p.zs[i] if recent else p.z[i])
        else:  # baseline not trusted yet: explain against the fleet's typical values
            expected = self.global_median
            z = (row - expected) / self.global_scale
        directional = np.where(self.params.two_sided, np.abs(z), np.maximum(z, 0.0))
        severity = severity_of(score, self.threshold, self.medium, self.high) or "low"
        reasons = reasons_for(row, expected, z, directional, REASON_MIN_DEVIATION)
        return Verdict(score, True, severity, reasons, recommendations_for(severity, reasons))


class _FlatForest:
    """A fitted IsolationForest's trees as flat arrays (see :meth:`Detector._forest_scores`)."""

    def __init__(self, forest: IsolationForest) -> None:
        trees = [e.tree_ for e in forest.estimators_]
        sizes = [t.node_count for t in trees]
        self.roots = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        offset = np.repeat(self.roots, sizes)
        left = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        right = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        self.leaf = left == -1
        self.left = np.where(self.leaf, -1, left + offset)
        self.right = np.where(self.leaf, -1, right + offset)
        self.feature = np.where(self.leaf, 0, np.concatenate([t.feature for t in trees])).astype(np.int64)
        self.threshold = np.concatenate([t.threshold for t in trees])
        self.depth = max(int(t.max_depth) for t in trees)
        # what sklearn adds per tree at a leaf, as it computes it (one array op per tree)
        self.value = np.concatenate(
            [
                forest._decision_path_lengths[i] + forest._average_path_length_per_tree[i] - 1.0  # noqa: SLF001
                for i in range(len(trees))
            ]
        )
        self.n_trees = len(trees)
        self.denominator = len(trees) * _average_path_length(forest._max_samples)  # noqa: SLF001

    @classmethod
    def of(cls, forest: IsolationForest) -> _FlatForest | bool:
        """The flat form, or False where it would not reproduce scikit-learn exactly."""
        try:
            n = forest.n_features_in_
            if forest._max_features != n or forest.estimators_features_ is None:  # noqa: SLF001
                return False
            # (missing-value routing never applies: non-finite input goes to scikit-learn)
            if any(e.tree_.n_features != n for e in forest.estimators_):
                return False
            return cls(forest)  # imports scikit-learn's private _average_path_length: guarded here too
        except (AttributeError, ImportError, TypeError, ValueError):
            return False

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        # sklearn validates to float32, then compares each float32 value with the float64 threshold
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        m = x.shape[0]
        node = np.broadcast_to(self.roots[:, None], (self.n_trees, m)).copy()
        cols = np.broadcast_to(np.arange(m), (self.n_trees, m))
        for _ in range(self.depth):
            inner = ~self.leaf[node]
            if not inner.any():
                break
            go_left = x[cols, self.feature[node]] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        add = self.value[node]
        depths = np.zeros(m)
        for t in range(self.n_trees):  # in tree order, as sklearn sums them
            depths += add[t]
        if self.denominator == 0:
            return -np.ones(m)
        return -(2 ** (-(depths / self.denominator)))


def _average_path_length(n: int) -> float:
    from sklearn.ensemble._iforest import _average_path_length as apl

    return float(apl([n])[0])
