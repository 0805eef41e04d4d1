"""Per-device baselines, updated in event order, vectorised across devices.

A device's baseline is an EWMA of each metric and an EWMA of the absolute
deviation from it (times sqrt(pi/2), a robust standard deviation for normal
noise), with a floor so a device that never loses a packet does not turn one
lost packet into a 1,000-sigma event. The first ``warmup`` events use a
running average (weight ``1/n``); until then the baseline is not trusted and the
global model alone decides. An event judged anomalous does not update the
baseline, and a normal one is clipped to ``clip_z`` robust std first, so an
incident does not become the device's new normal.

The state of one device is JSON: ``{"n": int, "mean": [5 floats], "mad": [5 floats]}``.

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


@dataclass(frozen=True, slots=True)
class BaselineParams:
    """How baselines learn: EWMA weight, warm-up length, clipping, scale floors, directions."""

    floors: np.ndarray  # (5,) smallest robust std per feature
    two_sided: np.ndarray  # (5,) bool: a drop is as anomalous as a rise
    alpha: float = 0.01
    warmup: int = 30
    clip_z: float = 4.0


@dataclass(frozen=True, slots=True)
class PassResult:
    """Per-row outputs of one pass, in the batch's row order."""

    dev_raw: np.ndarray  # (n,) root-sum-square of directional robust z-scores
    z: np.ndarray  # (n, 5) signed robust z-scores vs the device baseline before the event
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


def load_states(devices: Sequence[str], baselines: Mapping[str, Mapping]) -> tuple[np.ndarray, ...]:
    """``(n, mean, mad)`` arrays for ``devices``; a missing or empty state is a new device."""
    m = len(devices)
    n = np.zeros(m, dtype=np.int64)
    mean = np.zeros((m, N_FEATURES))
    mad = np.zeros((m, N_FEATURES))
    for j, d in enumerate(devices):
        st = baselines.get(d)
        if st and st.get("n"):
            n[j] = int(st["n"])
            mean[j] = st["mean"]
            mad[j] = st["mad"]
    return n, mean, mad


def store_states(
    devices: Sequence[str], n: np.ndarray, mean: np.ndarray, mad: np.ndarray, baselines: MutableMapping
) -> None:
    """Write the states of ``devices`` back into ``baselines`` (plain ints, floats, lists)."""
    n_l, mean_l, mad_l = n.tolist(), mean.tolist(), mad.tolist()
    for j, d in enumerate(devices):
        baselines[d] = {"n": n_l[j], "mean": mean_l[j], "mad": mad_l[j]}


def sequential_pass(
    rows: np.ndarray,
    inv: np.ndarray,
    occ: np.ndarray,
    state: tuple[np.ndarray, np.ndarray, np.ndarray],
    params: BaselineParams,
    dev_threshold: float,
    warm_anomalous: np.ndarray,
) -> PassResult:
    """Score rows against their devices' baselines and update ``state`` in place, in event order.

    ``dev_threshold`` is the raw deviation score at which a warmed-up device's event is anomalous
    (``inf`` while training); ``warm_anomalous`` says which warm-up rows the global model flagged.
    """
    n, mean, mad = state
    size = rows.shape[0]
    out = PassResult(
        dev_raw=np.zeros(size),
        z=np.zeros((size, N_FEATURES)),
        expected=np.zeros((size, N_FEATURES)),
        warmed=np.zeros(size, dtype=bool),
        anomalous=np.zeros(size, dtype=bool),
    )
    order = np.argsort(occ, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(occ)))) if size else np.zeros(1, dtype=np.int64)
    for k in range(len(bounds) - 1):
        r = order[bounds[k] : bounds[k + 1]]
        dev = inv[r]
        x = rows[r]
        nd, mu, md = n[dev], mean[dev], mad[dev]
        scale = np.maximum(ABSDEV_TO_STD * md, params.floors)
        z = (x - mu) / scale
        dz = np.where(params.two_sided, np.abs(z), np.maximum(z, 0.0))
        d = np.sqrt(np.einsum("ij,ij->i", dz, dz))
        warmed = nd >= params.warmup
        anomalous = np.where(warmed, d >= dev_threshold, warm_anomalous[r])
        out.dev_raw[r], out.z[r], out.expected[r] = d, z, mu
        out.warmed[r], out.anomalous[r] = warmed, anomalous
        keep = ~anomalous
        if not keep.any():
            continue
        dev, x, nd, mu, md, scale = dev[keep], x[keep], nd[keep], mu[keep], md[keep], scale[keep]
        lim = params.clip_z * scale
        xc = np.where(warmed[keep, None], np.clip(x, mu - lim, mu + lim), x)
        first = (nd == 0)[:, None]
        diff = xc - mu
        a = np.maximum(params.alpha, 1.0 / (nd + 1))[:, None]
        b = np.where(first, 0.0, np.maximum(params.alpha, 1.0 / np.maximum(nd, 1))[:, None])
        mean[dev] = np.where(first, x, mu + a * diff)
        mad[dev] = md + b * (np.abs(diff) - md)
        n[dev] = nd + 1
    return out
