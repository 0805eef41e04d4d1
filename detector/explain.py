"""Reasons and recommendations for a verdict.

Recommendations start from the first design's three lists (by risk level) and
add one or two concrete checks per feature that is beyond normal, most deviant
feature first, without duplicates.
"""

from __future__ import annotations

import numpy as np

from schemas import METRIC_FIELDS

NORMAL: tuple[str, ...] = ("Continue normal monitoring", "No immediate action required")
BY_SEVERITY: dict[str, tuple[str, ...]] = {
    "high": (
        "Immediate investigation required",
        "Verify upstream connectivity",
    ),
    "medium": (
        "Monitor closely for next 30 minutes",
        "Review recent configuration changes",
    ),
    "low": ("Monitor closely for next 30 minutes",),
}
BY_FEATURE: dict[str, tuple[str, ...]] = {
    "packet_loss": (
        "Check interface counters for drops and discards (show interfaces)",
        "Look for duplex or MTU mismatches on the device's links",
    ),
    "latency_ms": (
        "Trace the path (traceroute) for congestion or a route change",
        "Check queueing and CPU load on the device",
    ),
    "bandwidth_utilization": (
        "Check bandwidth utilization trends and top talkers",
        "Review QoS policy and link capacity",
    ),
    "connection_count": (
        "Check for DDoS attacks or a runaway client (connection table)",
        "Review firewall logs",
    ),
    "error_rate": (
        "Check CRC and input errors, cabling and optics",
        "Review recent configuration changes",
    ),
}


def severity_of(score: float, threshold: float, medium: float, high: float) -> str | None:
    """``None`` below the threshold, else low/medium/high by the model's bands."""
    if score < threshold:
        return None
    if score >= high:
        return "high"
    return "medium" if score >= medium else "low"


def reasons_for(
    value: np.ndarray, expected: np.ndarray, deviation: np.ndarray, directional: np.ndarray, min_dev: float
) -> list[dict]:
    """Features whose directional deviation is at least ``min_dev``, most deviant first.

    If none is (a joint deviation of several moderate features), the most deviant one is given.
    """
    order = np.argsort(-directional, kind="stable")
    picked = [int(i) for i in order if directional[i] >= min_dev] or [int(order[0])]
    return [
        {
            "feature": METRIC_FIELDS[i],
            "value": float(value[i]),
            "expected": round(float(expected[i]), 6),
            "deviation": round(float(deviation[i]), 2),
        }
        for i in picked
    ]


def recommendations_for(severity: str | None, reasons: list[dict]) -> list[str]:
    """The severity's list, then each reason's checks, deduplicated, in that order."""
    if severity is None:
        return list(NORMAL)
    recs = list(BY_SEVERITY[severity])
    for r in reasons:
        for rec in BY_FEATURE.get(r["feature"], ()):
            if rec not in recs:
                recs.append(rec)
    return recs
