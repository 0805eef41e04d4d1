"""Per-device baselines, updated in event order, vectorised across devices.

A device's baseline is an EWMA of each metric (with a Holt trend when
``trend_alpha > 0``: the expected value of a reading is level plus trend, so a
daily cycle is followed without lag; the trend learns only once the device is
warmed up and is capped at ``trend_cap`` times the level per reading, so a rise
faster than any normal cycle is not learnt as normal) and an EWMA of the absolute
deviation from it (times sqrt(pi/2), a robust standard deviation for normal
noise), with a floor so a device that never loses a packet does not turn one
lost packet into a 1,000-sigma event. With ``censor_at_bounds`` a fraction read at
its bound (utilisation or loss at 1.0, a saturated link) does not update that
feature's scale: it hides the noise, and a scale shrunk by hours at 100 % would turn
the next normal dip into an anomaly. With ``drop_floor`` a fall of a two-sided
feature is judged against at least that fraction of the level (a collapse is a
relative change; a link leaving saturation at 100 % for 85 % is not one).

The first ``warmup`` events use a running average (weight ``1/n``), of every
reading with ``warmup_learns_all`` (flagged ones too: a device unlike the training
fleet that the global model flags at every reading would otherwise stay in warm-up,
and in one incident, for ever; a flagged reading is clipped to ``clip_z`` robust std
first, so a burst early in warm-up does not hide the next one). Until then the baseline is not trusted and the
global model decides, except that from ``self_check_after`` readings on, a reading
the global model flags must also deviate from the device's own readings so far
(either statistic beyond its threshold): a device that is merely unlike the
training fleet (thousands of connections, 90 % utilisation) stops alerting once it
has shown that this is its normal. With ``defer_level``, before ``self_check_after``
readings the global model's flag counts only when the reading is anomalous to the
fleet with its level features (latency, utilisation, connections) set to the fleet's
medians, i.e. on packet loss and errors alone: at its first readings a device's own
level cannot be told from an incident (a device living at 6,000 connections and a
connection surge from minute 0 look alike), so a level unlike the fleet's waits until
it also deviates from the device's own readings. An event of a warmed-up device judged anomalous
does not update the baseline, and a normal one is clipped to ``clip_z`` robust std
first, so an incident does not become the device's new normal.

Two deviation statistics are computed per event: the event's own robust
z-scores (spikes), and the z-scores of a short EWMA of the device's recent
values (weight ``short_alpha``, about four events; each value winsorised to
``short_clip_z`` robust std first, so one burst barely moves it), in units of
that average's own standard deviation (EWMA control chart). The short average catches
sustained shifts that are small per event: slow drifts, error storms in noisy
error rates. Each statistic is the root-sum-square of directional z-scores.

With ``cusum_k > 0`` a third statistic: a one-sided CUSUM of each ``cusum_features`` reading's
robust z-score (latency), ``S = max(0, S + min(z, cusum_clip) - cusum_k)``, which adds up a small
persistent rise (a slow drift under noise) that the short average misses; it is capped at
``cusum_cap`` in training and, when scoring, ``cusum_margin`` steps above its threshold, so a rise
that is over stops being flagged within a few readings.

The state of one device is JSON:
``{"n": int, "mean": [5 floats], "mad": [5 floats], "short": [5 floats], "trend": [5 floats],
"cusum": [5 floats]}`` (a state without ``"trend"`` or ``"cusum"``, written before they existed,
has zeros).

Events of one batch are processed in rounds: round ``k`` holds every device's
``k``-th event of the batch, so each round is one set of numpy operations and
the cost grows with the events per device in a batch, not with the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np

N_FEATURES = 5
ABSDEV_TO_STD = 1.2533141373155001  # sqrt(pi/2)
# physical upper bounds: packet loss and utilisation are fractions
_UPPER = np.array([1.0, np.inf, 1.0, np.inf, np.inf])


@dataclass(frozen=True, slots=True)
class BaselineParams:
    """How baselines learn: EWMA weight, warm-up length, clipping, scale floors, directions."""

    floors: np.ndarray  # (5,) smallest robust std per feature
    two_sided: np.ndarray  # (5,) bool: a drop is as anomalous as a rise
    alpha: float = 0.01
    warmup: int = 30
    clip_z: float = 4.0
    short_alpha: float = 0.25
    short_clip_z: float = 6.0
    trend_alpha: float = 0.0  # Holt trend weight (0: no trend, the baseline is a plain EWMA)
    trend_cap: float | np.ndarray = 0.0  # largest trend per reading, as a fraction of the level
    # (one number, or one per feature)
    censor_at_bounds: bool = False  # a fraction at 1.0 (saturated) does not update its noise scale
    self_check_after: int = 0  # from this many readings on, a warm-up reading must also deviate from its own
    # (0: off)
    warmup_learns_all: bool = False  # warm-up readings update the baseline even when flagged
    drop_floor: float = 0.0  # a fall is judged against at least this fraction of the level
    defer_level: bool = False  # before self_check_after, the fleet judgement alone alerts only on
    # device-independent evidence (loss, errors): a level unlike the fleet's waits for the device's own
    defer_level_above: float = 3.0  # ... unless the fleet scores it this many decades above the threshold
    # (far beyond any device of the fleet: a 2.5 s latency is news even at a device's first reading)
    cusum_k: float = 0.0  # one-sided CUSUM of the rise of each ``cusum_features`` reading (0: off):
    # S = min(cusum_cap, max(0, S + min(z, cusum_clip) - cusum_k)), z the reading's robust z-score
    cusum_clip: float = 4.0
    cusum_cap: float = 30.0
    cusum_features: tuple[int, ...] = (1,)  # latency
    cusum_margin: float = 2.0  # when scoring, the CUSUM is capped this many steps (k) above its threshold


@dataclass(frozen=True, slots=True)
class PassResult:
    """Per-row outputs of one pass, in the batch's row order."""

    dev_raw: np.ndarray  # (n,) root-sum-square of directional robust z-scores of the event
    smooth_raw: np.ndarray  # (n,) the same for the short EWMA including the event
    cusum_raw: np.ndarray  # (n,) the largest CUSUM of the event's ``cusum_features`` (0 when off)
    z: np.ndarray  # (n, 5) signed robust z-scores vs the device baseline before the event
    zs: np.ndarray  # (n, 5) signed z-scores of the short EWMA
    expected: np.ndarray  # (n, 5) the baseline mean before the event
    warmed: np.ndarray  # (n,) bool: baseline trusted for this event
    anomalous: np.ndarray  # (n,) bool


def index_batch(device_ids: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct devices (first-seen order), each row's device index, each row's occurrence index."""
    index: dict[str, int] = {}
    counts: list[int] = []
    inv = np.empty(len(device_ids), dtype=np.int64)
    occ = np.empty(len(device_ids), dtype=np.int64)
    for i, d in enumerate(device_ids):
        j = index.get(d)
        if j is None:
            j = index[d] = len(counts)
            counts.append(0)
        inv[i] = j
        occ[i] = counts[j]
        counts[j] += 1
    return list(index), inv, occ


def load_states(
    devices: Sequence[str], baselines: Mapping[str, Mapping]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(n, mean, mad, short, trend, cusum)`` arrays for ``devices``; a missing or empty state is new."""
    m = len(devices)
    n = np.zeros(m, dtype=np.int64)
    mean = np.zeros((m, N_FEATURES))
    mad = np.zeros((m, N_FEATURES))
    short = np.zeros((m, N_FEATURES))
    trend = np.zeros((m, N_FEATURES))
    cusum = np.zeros((m, N_FEATURES))
    for j, d in enumerate(devices):
        st = baselines.get(d)
        if st and st.get("n"):
            n[j] = int(st["n"])
            mean[j] = st["mean"]
            mad[j] = st["mad"]
            short[j] = st.get("short", st["mean"])
            trend[j] = st.get("trend", 0.0)
            cusum[j] = st.get("cusum", 0.0)
    return n, mean, mad, short, trend, cusum


def store_states(
    devices: Sequence[str],
    n: np.ndarray,
    mean: np.ndarray,
    mad: np.ndarray,
    short: np.ndarray,
    trend: np.ndarray,
    cusum: np.ndarray,
    baselines: MutableMapping,
) -> None:
    """Write the states of ``devices`` back into ``baselines`` (plain ints, floats, lists)."""
    n_l, mean_l, mad_l, short_l = n.tolist(), mean.tolist(), mad.tolist(), short.tolist()
    trend_l, cusum_l = trend.tolist(), cusum.tolist()
    for j, d in enumerate(devices):
        baselines[d] = {
            "n": n_l[j],
            "mean": mean_l[j],
            "mad": mad_l[j],
            "short": short_l[j],
            "trend": trend_l[j],
            "cusum": cusum_l[j],
        }


def _rss(z: np.ndarray, two_sided: np.ndarray) -> np.ndarray:
    dz = np.where(two_sided, np.abs(z), np.maximum(z, 0.0))
    return np.sqrt(np.einsum("ij,ij->i", dz, dz))


def sequential_pass(
    rows: np.ndarray,
    inv: np.ndarray,
    occ: np.ndarray,
    state: tuple[np.ndarray, ...],
    params: BaselineParams,
    thresholds: tuple[float, ...],
    warm_anomalous: np.ndarray,
    warm_independent: np.ndarray | None = None,
) -> PassResult:
    """Score rows against their devices' baselines and update ``state`` in place, in event order.

    ``thresholds`` are the raw (event, short-average[, CUSUM]) statistics at which a warmed-up
    device's event is anomalous (``inf`` while training); ``warm_anomalous`` flags warm-up rows the global
    model judged anomalous, ``warm_independent`` those it judged anomalous on loss and errors alone
    (used with ``defer_level``; ``None``: no row).
    """
    n, mean, mad, short, trend, cusum = state
    size = rows.shape[0]
    out = PassResult(
        dev_raw=np.zeros(size),
        smooth_raw=np.zeros(size),
        cusum_raw=np.zeros(size),
        z=np.zeros((size, N_FEATURES)),
        zs=np.zeros((size, N_FEATURES)),
        expected=np.zeros((size, N_FEATURES)),
        warmed=np.zeros(size, dtype=bool),
        anomalous=np.zeros(size, dtype=bool),
    )
    sa = params.short_alpha
    short_sd = np.sqrt(sa / (2.0 - sa))  # std of an EWMA of iid noise, in units of the noise std
    use_cusum = params.cusum_k > 0 and len(thresholds) > 2
    # scoring: at most two steps above the threshold, so a rise that is over stops alerting within
    # about two readings (a latency spike would otherwise leave the CUSUM at its cap, and the device
    # flagged for (cap - threshold) / k readings after it); in training (no threshold) the cap
    c_cap = (
        min(params.cusum_cap, thresholds[2] + params.cusum_margin * params.cusum_k)
        if use_cusum
        else params.cusum_cap
    )
    cf = np.zeros(N_FEATURES, dtype=bool)
    cf[list(params.cusum_features)] = True
    order = np.argsort(occ, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(occ)))) if size else np.zeros(1, dtype=np.int64)
    for k in range(len(bounds) - 1):
        r = order[bounds[k] : bounds[k + 1]]
        dev = inv[r]
        x = rows[r]
        nd, md, tr = n[dev], mad[dev], trend[dev]
        mu = mean[dev] + tr  # the forecast for this reading: level plus trend (Holt)
        first = (nd == 0)[:, None]
        scale = np.maximum(ABSDEV_TO_STD * md, params.floors)
        warmed = nd >= params.warmup
        # winsorised: one burst moves the recent level by at most short_alpha * short_clip_z std
        lim_s = np.where(warmed[:, None], params.short_clip_z * scale, np.inf)
        xs = np.clip(x, mu - lim_s, mu + lim_s)
        sh = np.where(first, x, short[dev] + sa * (xs - short[dev]))
        short[dev] = sh  # the recent level follows every event, anomalous or not
        if params.drop_floor > 0:  # a fall is judged against the level too: a collapse is relative
            down = np.maximum(scale, params.drop_floor * np.abs(mu))
            z = (x - mu) / np.where(x < mu, down, scale)
            zs = (sh - mu) / (np.where(sh < mu, down, scale) * short_sd)
        else:
            z = (x - mu) / scale
            zs = (sh - mu) / (scale * short_sd)
        d, ds = _rss(z, params.two_sided), _rss(zs, params.two_sided)
        own = (d >= thresholds[0]) | (ds >= thresholds[1])
        if params.cusum_k > 0:
            # a small persistent rise adds up reading after reading; the baseline is not trusted (nor
            # the CUSUM) until warmed up, and the cap lets it fall below the threshold within a few
            # readings once the rise is over
            step = np.minimum(z, params.cusum_clip) - params.cusum_k
            c = np.where(warmed[:, None] & cf, np.clip(cusum[dev] + step, 0.0, c_cap), 0.0)
            cusum[dev] = c
            cr = c.max(axis=1)
            out.cusum_raw[r] = cr
            if use_cusum:
                own = own | (cr >= thresholds[2])
        warm = warm_anomalous[r]
        if params.self_check_after > 0:
            early = nd < params.self_check_after
            if params.defer_level:  # early on, only loss and errors: the device's level is not known yet
                indep = warm_independent[r] if warm_independent is not None else np.zeros(r.size, dtype=bool)
                warm = warm & np.where(early, indep, own)
            else:
                warm = warm & (early | own)
        anomalous = np.where(warmed, own, warm)
        out.dev_raw[r], out.smooth_raw[r], out.z[r], out.zs[r] = d, ds, z, zs
        out.expected[r], out.warmed[r], out.anomalous[r] = mu, warmed, anomalous
        keep = ~anomalous
        if params.warmup_learns_all:
            # warm-up learns the device's own normal from every reading: a device the fleet
            # judgement flags at every reading would otherwise never warm up (one endless incident)
            keep = keep | ~warmed
        if not keep.any():
            continue
        dev, x, nd, mu, md, scale = dev[keep], x[keep], nd[keep], mu[keep], md[keep], scale[keep]
        tr = tr[keep]
        lim = params.clip_z * scale
        # clipped like a warmed-up device's: a flagged warm-up reading moves the baseline only a little
        clipped = warmed[keep] | anomalous[keep]
        xc = np.where(clipped[:, None], np.clip(x, mu - lim, mu + lim), x)
        first = first[keep]
        diff = xc - mu
        a = np.maximum(params.alpha, 1.0 / (nd + 1))[:, None]
        b = np.where(first, 0.0, np.maximum(params.alpha, 1.0 / np.maximum(nd, 1))[:, None])
        mean[dev] = np.where(first, x, mu + a * diff)
        new_mad = md + b * (np.abs(diff) - md)
        if params.censor_at_bounds:  # a reading at the bound hides its noise: keep the scale
            new_mad = np.where(x >= _UPPER, md, new_mad)
        mad[dev] = new_mad
        if params.trend_alpha > 0:
            # the trend learns from warmed-up readings only: the warm-up's running average is no level
            learn = (nd >= params.warmup)[:, None]
            cap = params.trend_cap * np.abs(mean[dev])
            trend[dev] = np.where(learn, np.clip(tr + params.trend_alpha * a * diff, -cap, cap), 0.0)
        n[dev] = nd + 1
    return out
