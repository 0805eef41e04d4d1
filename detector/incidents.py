"""A labelled incident generator for evaluation (SYNTHETIC).

Devices of different normal levels (:mod:`detector.synthetic`) poll once a
minute (by default) in simulated time; incidents are injected on random
devices after the first ``quiet_minutes`` (devices in the lab have been running
before the stream starts; the detector still warms up from nothing), never two
at once on a device. Every event inside an incident window is labelled with it.

Incident types and their effects (multipliers apply to the device's own normal
readings, so a "spike" is relative to that device):

==================  ============  ===========================================================
type                duration      effect
==================  ============  ===========================================================
latency_spike       2-10 min      latency x U(3, 8)
packet_loss_burst   1-5 min       packet loss + U(0.05, 0.30)
link_saturation     10-30 min     utilisation U(0.97, 1.0), latency x U(1.5, 3), loss + U(0.01, 0.05)
error_storm         2-10 min      error rate x U(10, 50)
connection_surge    5-15 min      connections x U(3, 10)
slow_drift          60-180 min    latency ramps linearly from x1 to x U(2, 4) over the window
==================  ============  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.synthetic import DEFAULT, DeviceProfiles, Variation, normal_metrics, timeline

INCIDENT_TYPES: tuple[str, ...] = (
    "latency_spike",
    "packet_loss_burst",
    "link_saturation",
    "error_storm",
    "connection_surge",
    "slow_drift",
)
_DURATION_MIN = {
    "latency_spike": (2, 10),
    "packet_loss_burst": (1, 5),
    "link_saturation": (10, 30),
    "error_storm": (2, 10),
    "connection_surge": (5, 15),
    "slow_drift": (60, 180),
}


@dataclass(frozen=True, slots=True)
class Incident:
    device: int
    kind: str
    start: float  # seconds of simulated time
    end: float


@dataclass(frozen=True, slots=True)
class LabelledStream:
    """Events in time order with their labels: ``incident[i]`` is an index into ``incidents`` or -1."""

    rows: np.ndarray
    device: np.ndarray
    device_ids: list[str]
    t: np.ndarray
    incident: np.ndarray
    incidents: list[Incident]
    n_devices: int
    minutes: int

    @property
    def label(self) -> np.ndarray:
        return self.incident >= 0


def _place(
    rng: np.random.Generator, n_devices: int, minutes: int, quiet: int, per_type: int, at_start: int = 0
) -> list[Incident]:
    busy: dict[int, list[tuple[float, float]]] = {}
    out: list[Incident] = []
    if at_start > n_devices:
        raise ValueError(f"{at_start} incidents at first readings need as many devices, not {n_devices}")
    for k in range(at_start):  # from a device's very first reading: no baseline yet
        kind = INCIDENT_TYPES[k % (len(INCIDENT_TYPES) - 1)]  # not slow_drift: it starts at normal
        lo, hi = _DURATION_MIN[kind]
        dur = rng.uniform(lo, hi) * 60.0
        busy[k] = [(0.0, dur)]
        out.append(Incident(k, kind, 0.0, dur))
    for kind in INCIDENT_TYPES:
        lo, hi = _DURATION_MIN[kind]
        if (minutes - hi - 60) <= quiet:
            raise ValueError(f"{minutes} simulated minutes leave no room for a {hi}-minute {kind}")
        placed, attempts = 0, 0
        while placed < per_type:
            attempts += 1
            if attempts > 100_000:
                raise ValueError(f"cannot place {per_type} {kind} incidents on {n_devices} devices")
            dur = rng.uniform(lo, hi) * 60.0
            start = rng.uniform(quiet * 60.0, minutes * 60.0 - dur - 3600.0)
            dev = int(rng.integers(n_devices))
            # keep an hour between incidents of a device, so each one starts from a normal state
            if any(start < e + 3600.0 and s < start + dur + 3600.0 for s, e in busy.get(dev, [])):
                continue
            busy.setdefault(dev, []).append((start, start + dur))
            out.append(Incident(dev, kind, start, start + dur))
            placed += 1
    return sorted(out, key=lambda i: i.start)


def _apply(rows: np.ndarray, inc: Incident, m: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> None:
    n = int(m.sum())
    x = rows[m]
    if inc.kind == "latency_spike":
        x[:, 1] *= rng.uniform(3, 8)
    elif inc.kind == "packet_loss_burst":
        x[:, 0] += rng.uniform(0.05, 0.30)
    elif inc.kind == "link_saturation":
        x[:, 2] = rng.uniform(0.97, 1.0, n)
        x[:, 1] *= rng.uniform(1.5, 3)
        x[:, 0] += rng.uniform(0.01, 0.05)
    elif inc.kind == "error_storm":
        x[:, 4] *= rng.uniform(10, 50)
    elif inc.kind == "connection_surge":
        x[:, 3] = np.round(x[:, 3] * rng.uniform(3, 10))
    else:  # slow_drift
        frac = (t[m] - inc.start) / (inc.end - inc.start)
        x[:, 1] *= 1.0 + frac * (rng.uniform(2, 4) - 1.0)
    x[:, 0] = np.clip(x[:, 0], 0.0, 1.0)
    rows[m] = x


def incident_stream(
    seed: int = 0,
    n_devices: int = 30,
    minutes: int = 2 * 1440,
    per_type: int = 10,
    events_per_minute: int = 1,
    quiet_minutes: int = 120,
    variation: Variation = DEFAULT,
    at_start: int = 0,
) -> LabelledStream:
    """A labelled stream: ``per_type`` incidents of each type over ``n_devices`` and ``minutes``.

    ``variation`` changes the devices' normal life (:class:`detector.synthetic.Variation`);
    ``at_start`` more incidents start at the first readings of as many devices.
    """
    rng = np.random.default_rng(seed)
    profiles = DeviceProfiles.draw(n_devices, rng, variation)
    dev, t = timeline(n_devices, minutes, events_per_minute, rng)
    rows = normal_metrics(profiles, dev, t, rng, variation)
    incidents = _place(rng, n_devices, minutes, quiet_minutes, per_type, at_start)
    label = np.full(t.size, -1, dtype=np.int64)
    for k, inc in enumerate(incidents):
        m = (dev == inc.device) & (t >= inc.start) & (t < inc.end)
        label[m] = k
        _apply(rows, inc, m, t, rng)
    names = [f"eval-{seed}-{i:04d}" for i in range(n_devices)]
    return LabelledStream(rows, dev, [names[i] for i in dev], t, label, incidents, n_devices, minutes)
