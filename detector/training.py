"""Train a :class:`Detector` from normal traffic (rows in METRIC_FIELDS order, in event order).

1. Global model: an IsolationForest on the log-scaled raw metrics, standardised.
2. Baselines: the training stream is replayed through the per-device baselines
   (every event updates, none is skipped) to get both deviation statistics of every
   event of a warmed-up device; scale floors come from the devices' own noise. The
   baselines have a capped Holt trend (``TREND_ALPHA``, ``TREND_CAP``), a saturated
   fraction (utilisation or loss at 1.0) does not shrink a device's noise scale, a fall
   is judged against ``DROP_FLOOR`` of the level, warm-up learns from every reading and
   a warm-up device is checked against its own readings from ``SELF_CHECK_AFTER`` on;
   before that, with ``DEFER_LEVEL``, the fleet judgement alone alerts only on packet
   loss and errors (see :mod:`detector.baseline`).
3. Calibration: each regime's training scores are fitted with a
   :class:`TailCalibrator`; the alert threshold is the calibrated score whose
   exceedance probability per event is ``target_false_alert_rate /
   events_per_window``, so that a normal device raises about
   ``target_false_alert_rate`` alerts per alert window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import IsolationForest

from detector.baseline import BaselineParams, index_batch, load_states, sequential_pass
from detector.calibration import TailCalibrator
from detector.drift import reference_from
from detector.exceptions import TrainingDataError
from detector.model import Detector, log_features
from schemas import METRIC_FIELDS

MIN_ROWS = 500
# Smallest robust std per feature, in the metric's units (resolution of the measurement).
_ABS_FLOORS = np.array([1e-4, 0.05, 1e-3, 0.5, 1e-5])
_TWO_SIDED = np.array([False, False, True, True, False])  # utilisation or connections collapsing is news too
# Holt trend of the baselines: weight, and the largest trend per reading as a fraction of the level,
# per feature (loss, latency, utilisation, connections, errors). 0.1 % a reading (one a minute)
# follows a daily cycle of up to about ±23 % without lag, 0.3 % one of about ±70 %: utilisation and
# connections follow their users' day, latency less; a slow drift of latency rises 0.6-5 % a minute,
# well above latency's 0.2 %, and stands out. Chosen on 2026-12-07 from seeds 0-4 of `labstream model
# generalise` (0.1 % everywhere in rounds 1-2; README, "Generalisation", which gives held-out seeds).
TREND_ALPHA = 0.03
TREND_CAP = (0.001, 0.002, 0.003, 0.003, 0.001)
# from this many readings of its own on, a device in warm-up is flagged only if its reading also
# deviates from them (besides the fleet's judgement): unusual but steady devices stop alerting
SELF_CHECK_AFTER = 5
# a fall of a two-sided feature (utilisation, connections) is judged against at least this fraction
# of its level: a collapse is a relative change, and a link leaving saturation is not one
DROP_FLOOR = 0.1
# before SELF_CHECK_AFTER readings a device's levels (latency, utilisation, connections) cannot be told
# from an incident by the fleet alone (a device living at 6,000 connections and a surge at minute 0
# look alike), so the fleet judgement alone alerts there only on loss and errors; a level unlike the
# fleet's must also deviate from the device's own readings. Chosen on 2026-12-07 from seeds 0-4 of
# `labstream model generalise`: one false alert fewer per near-limit device, at the price of most
# level-only incidents that start at a device's first reading (README, "Generalisation").
DEFER_LEVEL = True
# a level alone alerts at a device's first readings (before SELF_CHECK_AFTER) only when far beyond the
# fleet (defer_level_above decades) and only for these features: latency (1). Utilisation and connections
# describe how big and busy a device is, which a training fleet cannot bound (a lab's core switch
# at 7,000 connections is not an incident); seconds of latency are bad on any device.
FAR_LEVELS = (1,)
CUSUM_K = 1.25
CUSUM_CLIP = 4.0
CUSUM_CAP = 30.0
CUSUM_FEATURES = (1,)  # latency


def _device_noise(rows: np.ndarray, inv: np.ndarray, n_dev: int) -> np.ndarray:
    """Median over devices of each device's robust std (1.4826 * MAD) per feature."""
    scales = []
    for j in range(n_dev):
        x = rows[inv == j]
        if x.shape[0] >= 10:
            scales.append(1.4826 * np.median(np.abs(x - np.median(x, axis=0)), axis=0))
    return np.median(np.array(scales), axis=0) if scales else np.zeros(len(METRIC_FIELDS))


def train_detector(
    rows: np.ndarray,
    device_ids: Sequence[str],
    *,
    seed: int = 42,
    target_false_alert_rate: float = 0.00025,
    events_per_window: float = 5.0,
    alpha: float = 0.01,
    warmup: int = 30,
    n_estimators: int = 100,
    trend_alpha: float = TREND_ALPHA,
    trend_cap: float | Sequence[float] = TREND_CAP,
    censor_at_bounds: bool = True,
    self_check_after: int = SELF_CHECK_AFTER,
    warmup_learns_all: bool = True,
    drop_floor: float = DROP_FLOOR,
    defer_level: bool = DEFER_LEVEL,
    cusum_k: float = CUSUM_K,
    cusum_clip: float = CUSUM_CLIP,
    cusum_cap: float = CUSUM_CAP,
    far_levels: tuple[int, ...] = FAR_LEVELS,
    cusum_features: tuple[int, ...] = CUSUM_FEATURES,
) -> Detector:
    """Fit a detector on (mostly) normal traffic; anomalies in it only make thresholds more conservative."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(METRIC_FIELDS) or rows.shape[0] != len(device_ids):
        raise TrainingDataError(f"expected rows (n, 5) matching device_ids; got {rows.shape}")
    if rows.shape[0] < MIN_ROWS:
        raise TrainingDataError(f"need at least {MIN_ROWS} training events, got {rows.shape[0]}")
    if not np.isfinite(rows).all():
        raise TrainingDataError("training rows contain NaN or infinite values")
    feats = log_features(rows)
    g_center, g_scale = feats.mean(axis=0), feats.std(axis=0) + 1e-9
    forest = IsolationForest(n_estimators=n_estimators, max_samples=256, random_state=seed)
    forest.fit((feats - g_center) / g_scale)
    g_cal = TailCalibrator.fit(-forest.score_samples((feats - g_center) / g_scale))

    devices, inv, occ = index_batch(device_ids)
    floors = np.maximum(_ABS_FLOORS, 0.25 * _device_noise(rows, inv, len(devices)))
    params = BaselineParams(
        floors=floors,
        two_sided=_TWO_SIDED,
        alpha=alpha,
        warmup=warmup,
        trend_alpha=trend_alpha,
        trend_cap=np.asarray(trend_cap, dtype=np.float64),
        censor_at_bounds=censor_at_bounds,
        self_check_after=self_check_after,
        warmup_learns_all=warmup_learns_all,
        drop_floor=drop_floor,
        defer_level=defer_level,
        cusum_k=cusum_k,
        cusum_clip=cusum_clip,
        cusum_cap=cusum_cap,
        cusum_features=tuple(cusum_features),
    )
    no_flags = np.zeros(rows.shape[0], dtype=bool)
    passed = sequential_pass(rows, inv, occ, load_states(devices, {}), params, (math.inf, math.inf), no_flags)
    if passed.warmed.sum() < 1000:
        raise TrainingDataError(
            f"only {int(passed.warmed.sum())} events of warmed-up devices (need 1000): "
            f"give more events per device (warm-up is {warmup})"
        )
    d_cal = TailCalibrator.fit(passed.dev_raw[passed.warmed])
    s_cal = TailCalibrator.fit(passed.smooth_raw[passed.warmed])
    c_cal = TailCalibrator.fit(passed.cusum_raw[passed.warmed]) if cusum_k > 0 else None
    per_event = target_false_alert_rate / max(events_per_window, 1.0)
    global_median = np.median(rows, axis=0)
    state = {
        "format": 1,
        "forest": forest,
        "params": {
            "floors": floors,
            "two_sided": _TWO_SIDED.copy(),
            "alpha": alpha,
            "warmup": warmup,
            "clip_z": params.clip_z,
            "short_alpha": params.short_alpha,
            "short_clip_z": params.short_clip_z,
            "trend_alpha": trend_alpha,
            "trend_cap": np.asarray(trend_cap, dtype=np.float64).tolist(),
            "censor_at_bounds": censor_at_bounds,
            "self_check_after": self_check_after,
            "warmup_learns_all": warmup_learns_all,
            "drop_floor": drop_floor,
            "defer_level": defer_level,
            "defer_level_above": params.defer_level_above,
            "cusum_k": cusum_k,
            "cusum_clip": cusum_clip,
            "cusum_cap": cusum_cap,
            "cusum_features": list(params.cusum_features),
            "cusum_margin": params.cusum_margin,
            "far_levels": list(far_levels),
        },
        "g_center": g_center,
        "g_scale": g_scale,
        # the fleet's envelope: the most extreme standardised log values seen in training, per feature
        "g_lo": ((feats - g_center) / g_scale).min(axis=0),
        "g_hi": ((feats - g_center) / g_scale).max(axis=0),
        "global_median": global_median,
        "global_scale": np.maximum(1.4826 * np.median(np.abs(rows - global_median), axis=0), _ABS_FLOORS),
        "g_cal": g_cal.to_state(),
        "d_cal": d_cal.to_state(),
        "s_cal": s_cal.to_state(),
        "threshold": -math.log10(per_event),
        "target_false_alert_rate": target_false_alert_rate,
        "events_per_window": float(events_per_window),
        "reference": reference_from(rows),
    }
    if c_cal is not None:
        state["c_cal"] = c_cal.to_state()
    return Detector(state)
