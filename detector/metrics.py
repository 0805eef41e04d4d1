"""Detection metrics on a labelled stream, at two levels.

Event level: every event is a sample; positive if inside an incident window.
Precision/recall/F1 over events. Per type: recall over that type's events, and
precision as if the stream held only that type's incidents: TP_type / (TP_type + FP),
with FP the flagged normal events of the whole stream.

Incident level (what ops see): flagged events become *alerts* by the rule the
worker ships (:mod:`detector.episodes`): an alert is the ``firing`` record of an
incident, which stays open while flagged events of its device come less than
``alert_window_s`` apart. An alert is true if it opens inside an incident of its
device or within ``alert_window_s`` after its end (the tail of the same
incident), else false. Recall = incidents with at least one
flagged event inside their window / incidents; precision = true alerts / alerts.
Detection delay = time from incident start to its first flagged event. Per type:
recall, delay, and precision as TA_type / (TA_type + FA). False alerts per
device-hour = false alerts / (devices x simulated hours).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detector.episodes import episodes
from detector.incidents import INCIDENT_TYPES, LabelledStream


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(_f1(p, r), 4)}


def raise_alerts(flagged: np.ndarray, device: np.ndarray, t: np.ndarray, window_s: float) -> np.ndarray:
    """Events that open an incident (a ``firing`` record), by the worker's rule (:func:`episodes`)."""
    out = np.zeros(flagged.size, dtype=bool)
    for ep in episodes(flagged, device, t, window_s):
        out[ep.first_row] = True
    return out


def resolution_times(
    flagged: np.ndarray,
    device: np.ndarray,
    t: np.ndarray,
    window_s: float,
    severity: np.ndarray | None = None,
) -> dict[str, Any]:
    """How long the rule's incidents last, how soon they are resolved (minutes, medians), and how
    many ``updated`` records (severity rises) they give (counted only when ``severity`` is given)."""
    eps = episodes(flagged, device, t, window_s, severity)
    done = [e for e in eps if e.resolved_at is not None]
    dur = np.array([e.last_seen_at - e.started_at for e in done]) / 60.0
    lag = np.array([e.resolved_at - e.last_seen_at for e in done if e.resolved_at is not None]) / 60.0
    return {
        "incidents_opened": len(eps),
        "resolved": len(done),
        "updates": sum(e.updates for e in eps) if severity is not None else None,
        "duration_min_median": round(float(np.median(dur)), 2) if dur.size else None,
        "resolve_lag_min_median": round(float(np.median(lag)), 2) if lag.size else None,
    }


def event_level(stream: LabelledStream, flagged: np.ndarray) -> dict[str, Any]:
    label = stream.label
    fp = int((flagged & ~label).sum())
    out: dict[str, Any] = {"overall": _prf(int((flagged & label).sum()), fp, int((~flagged & label).sum()))}
    kinds = np.array([stream.incidents[k].kind if k >= 0 else "" for k in stream.incident])
    for kind in INCIDENT_TYPES:
        m = kinds == kind
        out[kind] = _prf(int((flagged & m).sum()), fp, int((~flagged & m).sum()))
    return out


def incident_level(
    stream: LabelledStream, flagged: np.ndarray, window_s: float, severity: np.ndarray | None = None
) -> dict[str, Any]:
    alerts = raise_alerts(flagged, stream.device, stream.t, window_s)
    owner = np.full(stream.t.size, -1, dtype=np.int64)  # incident an alert belongs to
    detected, delays = [], []
    for k, inc in enumerate(stream.incidents):
        on_dev = stream.device == inc.device
        owner[on_dev & (stream.t >= inc.start) & (stream.t < inc.end + window_s) & alerts] = k
        hits = np.flatnonzero(on_dev & (stream.incident == k) & flagged)
        detected.append(hits.size > 0)
        delays.append(float(stream.t[hits[0]] - inc.start) if hits.size else None)
    n_alerts = int(alerts.sum())
    false_alerts = int((alerts & (owner < 0)).sum())
    hours = stream.n_devices * stream.minutes / 60.0

    def summary(ks: list[int]) -> dict[str, Any]:
        true_alerts = int(np.isin(owner[alerts], ks).sum())
        hit = [k for k in ks if detected[k]]
        p = true_alerts / (true_alerts + false_alerts) if true_alerts + false_alerts else 0.0
        r = len(hit) / len(ks) if ks else 0.0
        d = np.array([delays[k] for k in hit]) / 60.0
        return {
            "incidents": len(ks),
            "detected": len(hit),
            "true_alerts": true_alerts,
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(_f1(p, r), 4),
            "delay_min_median": round(float(np.median(d)), 2) if d.size else None,
            "delay_min_p90": round(float(np.quantile(d, 0.9)), 2) if d.size else None,
        }

    out: dict[str, Any] = {"overall": summary(list(range(len(stream.incidents))))}
    out["overall"].update(
        {
            "alerts": n_alerts,
            "false_alerts": false_alerts,
            "false_alerts_per_device_hour": round(false_alerts / hours, 5),
            "false_alerts_per_device_day": round(24 * false_alerts / hours, 4),
            "lifecycle": resolution_times(flagged, stream.device, stream.t, window_s, severity),
        }
    )
    for kind in INCIDENT_TYPES:
        out[kind] = summary([k for k, inc in enumerate(stream.incidents) if inc.kind == kind])
    return out
