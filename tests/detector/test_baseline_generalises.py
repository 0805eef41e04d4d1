"""The baseline's parts that make detection hold on streams unlike the training fleet (issue 16, item 5).

Each test compares the shipped behaviour with the same detector with that part switched off, on a
small SYNTHETIC stream, so it fails if the part stops doing what the README says it does.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from detector import Detector, synthetic_normal_traffic, train_detector
from detector.baseline import BaselineParams, load_states, sequential_pass
from detector.incidents import incident_stream
from detector.metrics import incident_level
from detector.synthetic import Variation


@pytest.fixture(scope="module")
def trained() -> tuple[np.ndarray, list[str]]:
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=300, seed=5)
    return rows, ids


@pytest.fixture(scope="module")
def shipped(trained: tuple[np.ndarray, list[str]]) -> Detector:
    """The detector as shipped, trained once on ``trained`` (seed 5)."""
    return train_detector(*trained, seed=5)


def _flags(det: Detector, rows: np.ndarray, ids: list[str]) -> np.ndarray:
    baselines: dict[str, dict] = {}
    return np.concatenate(
        [
            det.score_arrays(rows[i : i + 1000], ids[i : i + 1000], baselines).is_anomaly
            for i in range(0, len(ids), 1000)
        ]
    )


def test_the_trend_follows_a_strong_daily_cycle_and_still_finds_incidents(
    trained: tuple[np.ndarray, list[str]],
) -> None:
    rows, ids = trained
    # the CUSUM off in both, so only the trend differs (with it, three looks raise both thresholds
    # and this small stream has no false alert either way)
    with_trend = train_detector(rows, ids, seed=5, cusum_k=0.0)
    without = train_detector(rows, ids, seed=5, trend_alpha=0.0, trend_cap=0.0, cusum_k=0.0)
    assert with_trend.params.trend_alpha > 0 and without.params.trend_alpha == 0
    stream = incident_stream(
        seed=11, n_devices=8, minutes=1440, per_type=1, variation=Variation(cycle=2.5, latency_cycle=0.3)
    )
    got = {
        name: incident_level(stream, _flags(det, stream.rows, stream.device_ids), 300.0)["overall"]
        for name, det in (("trend", with_trend), ("none", without))
    }
    assert got["trend"]["false_alerts"] < got["none"]["false_alerts"], got
    assert got["trend"]["recall"] >= 5 / 6, got


def test_a_saturated_link_keeps_its_noise_scale() -> None:
    rng = np.random.default_rng(0)
    n = 1600
    rows = np.column_stack(
        [
            np.full(n, 0.001),
            20.0 + rng.normal(0, 1, n),
            np.r_[0.8 + rng.normal(0, 0.03, 100), np.ones(n - 100)],  # then a day at 100 %
            100.0 + rng.normal(0, 5, n),
            np.full(n, 0.001),
        ]
    )
    base = BaselineParams(floors=np.full(5, 1e-6), two_sided=np.array([False, False, True, True, False]))
    mads = {}
    for censor in (False, True):
        state = load_states(["d"], {})
        params = dataclasses.replace(base, censor_at_bounds=censor)
        no = np.zeros(n, dtype=bool)
        sequential_pass(rows, np.zeros(n, dtype=np.int64), np.arange(n), state, params, (np.inf, np.inf), no)
        mads[censor] = state[2][0, 2]
    assert mads[True] > 0.015  # about the 0.03 noise before saturation (as mean absolute deviation)
    assert mads[False] < mads[True] / 5


def test_a_device_unlike_the_fleet_alerts_only_until_it_has_shown_its_normal(
    trained: tuple[np.ndarray, list[str]], shipped: Detector
) -> None:
    rows, ids = trained
    det = shipped
    unchecked = train_detector(rows, ids, seed=5, self_check_after=0)
    assert det.params.self_check_after > 0
    rng = np.random.default_rng(1)
    n = det.params.warmup
    hot = np.column_stack(  # 95 % utilisation and 2,000 connections: outside the training fleet (max ~400)
        [
            np.full(n, 0.001),
            20.0 * np.exp(rng.normal(0, 0.05, n)),
            0.95 + rng.normal(0, 0.005, n),
            rng.poisson(2_000, n).astype(float),
            np.full(n, 0.001),
        ]
    )
    not_deferred = train_detector(rows, ids, seed=5, defer_level=False)
    assert det.params.defer_level and not not_deferred.params.defer_level
    # without deferral: flagged by the fleet at its first readings only, then its own readings clear it
    flagged = np.flatnonzero(_flags(not_deferred, hot, ["hot"] * n))
    assert flagged.size and flagged.max() < det.params.self_check_after
    assert _flags(unchecked, hot, ["hot"] * n).sum() > flagged.size
    # deferred (shipped): its levels wait for its own readings, which show them normal: no alert at all
    assert not _flags(det, hot, ["hot"] * n).any()
    far = hot.copy()
    far[:, 3] *= 10  # 20,000 connections: more than defer_level_above decades beyond the fleet,
    assert det.global_scores(far[:1])[0] >= det.threshold + det.params.defer_level_above
    # but connections say how big a device is: that level alone waits for its own readings too
    assert det.far_levels == (1,)
    assert not _flags(det, far, ["far"] * n).any()
    slow = hot.copy()
    slow[:, 1] *= 100  # 2 s latency: bad on any device, news at its first reading
    assert det.global_scores(slow[:1])[0] >= det.threshold + det.params.defer_level_above
    assert _flags(det, slow, ["slow"] * n)[0]
    burst = hot.copy()
    burst[:, 0] = 0.2  # a packet-loss burst from the first reading is still found at its first readings
    k = det.params.self_check_after
    assert _flags(det, burst, ["b"] * n)[:k].all()
    # (the price: a device that starts in an incident and stays in it has it learnt as its normal,
    # and with deferral a level-only incident from its first reading, a connection surge, too)


def test_a_state_written_before_the_trend_still_loads() -> None:
    old = {"n": 40, "mean": [0.0, 20.0, 0.5, 100.0, 0.001], "mad": [0.001, 1.0, 0.02, 5.0, 0.001]}
    n, mean, mad, short, trend, cusum = load_states(["d"], {"d": old})
    assert n[0] == 40 and (trend == 0).all() and (cusum == 0).all() and (short[0] == mean[0]).all()


def test_the_cusum_finds_slow_drifts_in_noise_that_the_short_average_misses(
    trained: tuple[np.ndarray, list[str]], shipped: Detector
) -> None:
    rows, ids = trained
    det = shipped
    off = train_detector(rows, ids, seed=5, cusum_k=0.0)
    assert det.params.cusum_k > 0 and off.params.cusum_k == 0 and len(det.raw_thresholds) == 3
    rng = np.random.default_rng(3)
    n, start, ramp = 400, 200, 150  # latency rises linearly to x2.5 over 150 readings, noise x3
    lat = 40.0 * np.exp(rng.normal(0, 0.24, n))
    lat[start : start + ramp] *= 1.0 + 1.5 * np.arange(ramp) / ramp
    lat = lat[: start + ramp]
    m = lat.size
    drift = _with_latency(lat, rng)
    assert not _flags(det, drift, ["d"] * m)[:start].any()
    assert _flags(det, drift, ["d"] * m)[start:].any()
    assert not _flags(off, drift, ["d"] * m)[start:].any()


def _with_latency(lat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Readings of one quiet device (loss, utilisation 40 %, 100 connections, errors) with this latency."""
    n = lat.size
    return np.column_stack(
        [
            np.full(n, 0.001),
            lat,
            0.4 + rng.normal(0, 0.01, n),
            rng.poisson(100, n).astype(float),
            np.full(n, 0.001),
        ]
    )


def test_the_cusum_score_means_decades_of_rarity_on_unseen_normal_traffic(shipped: Detector) -> None:
    det = shipped
    assert det.c_cal is not None
    # normal traffic of other devices, a whole day: a calibrated CUSUM score of k decades should be
    # reached by about one warmed-up reading in 10**k (so the target rate still means what it says)
    other, other_ids, _ = synthetic_normal_traffic(n_devices=20, minutes=1440, seed=6)
    baselines: dict[str, dict] = {}
    passes = [
        det.score_arrays(other[i : i + 1000], other_ids[i : i + 1000], baselines).passed
        for i in range(0, len(other_ids), 1000)
    ]
    score = det.c_cal.transform(np.concatenate([p.cusum_raw[p.warmed] for p in passes]))
    for k in (1, 2):
        assert 10.0**-k / 3 <= (score >= k).mean() <= 3 * 10.0**-k, (k, (score >= k).mean())
    # a CUSUM at rest (most readings) adds nothing to a reading's score: no floor under normal scores
    s = det.score_arrays(other[:2000], other_ids[:2000], {})
    rest = s.passed.warmed & (s.passed.cusum_raw == 0)
    assert rest.sum() > 500
    others = np.maximum(det.d_cal.transform(s.passed.dev_raw), det.s_cal.transform(s.passed.smooth_raw))
    np.testing.assert_allclose(s.score[rest], (others - det.looks)[rest])


def test_the_cusum_stops_alerting_soon_after_a_rise_is_over(shipped: Detector) -> None:
    det = shipped
    rng = np.random.default_rng(4)
    n, start, end = 200, 100, 110  # latency x5 for 10 readings of a warmed-up device
    lat = 40.0 * np.exp(rng.normal(0, 0.08, n))
    lat[start:end] *= 5.0
    spike = _with_latency(lat, rng)
    baselines: dict[str, dict] = {}
    s = det.score_arrays(spike, ["s"] * n, baselines)
    assert s.is_anomaly[start:end].all()
    # the CUSUM passed its threshold during the spike, but is capped near it when scoring, so the
    # device is not flagged for (cap - threshold) / k readings after it (the incident would not end)
    assert s.passed.cusum_raw[start:end].max() >= det.raw_thresholds[2]
    assert not s.is_anomaly[end + 3 :].any()


def test_a_model_saved_before_round_3_keeps_its_behaviour(trained: tuple[np.ndarray, list[str]]) -> None:
    rows, ids = trained
    # what a round-2 model was: no CUSUM, one trend cap, every level may be "far" at first readings
    like_old = train_detector(rows, ids, seed=5, cusum_k=0.0, trend_cap=0.001, far_levels=(1, 2, 3))
    state = dict(like_old.state)
    params = {k: v for k, v in state["params"].items() if not k.startswith("cusum") and k != "far_levels"}
    params["trend_cap"] = 0.001
    state["params"] = params
    old = Detector(state)  # as loaded from a round-2 file: none of the round-3 keys
    assert old.c_cal is None and old.far_levels == (1, 2, 3) and len(old.raw_thresholds) == 2
    stream = incident_stream(seed=3, n_devices=6, minutes=600, per_type=1, quiet_minutes=0, at_start=2)
    got = old.score_arrays(stream.rows, stream.device_ids, {})
    want = like_old.score_arrays(stream.rows, stream.device_ids, {})
    assert np.array_equal(got.is_anomaly, want.is_anomaly) and np.allclose(got.score, want.score)
    assert got.is_anomaly.any()
    # and that is what round 2's own code gave (recorded at 3df1dd3, see the file's "made_by")
    recorded = json.loads((Path(__file__).parent / "data" / "round2_scores.json").read_text())
    assert np.flatnonzero(got.is_anomaly).tolist() == recorded["is_anomaly"]
    np.testing.assert_allclose(got.score, recorded["score"], atol=1e-5)
