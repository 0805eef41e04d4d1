"""The evaluation report: ``report.json``, ``report.png`` and a side-by-side text table.

matplotlib is imported lazily (Agg backend), only when a PNG is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.incidents import INCIDENT_TYPES


def summary_table(report: dict[str, Any]) -> str:
    """Ours vs the first design, incident level then event level, per type; Shuttle ROC-AUC last."""
    ours, first = report["ours"], report["first_design"]
    oi, fi = ours["incident_level"], first["incident_level"]
    lines = [
        f"LabStream detector evaluation (seed {report['seed']}, SYNTHETIC incident stream: "
        f"{report['stream']['devices']} devices x {report['stream']['simulated_minutes'] // 60} h, "
        f"{report['stream']['incidents']} incidents)",
        f"{'':34}{'ours':>12}{'first design':>16}",
    ]

    def row(name: str, a: Any, b: Any) -> None:
        lines.append(f"{name:34}{a!s:>12}{b!s:>16}")

    row("incident-level F1", oi["overall"]["f1"], fi["overall"]["f1"])
    row("incident-level precision", oi["overall"]["precision"], fi["overall"]["precision"])
    row("incident-level recall", oi["overall"]["recall"], fi["overall"]["recall"])
    row(
        "false alerts / device-day",
        oi["overall"]["false_alerts_per_device_day"],
        fi["overall"]["false_alerts_per_device_day"],
    )
    row("detection delay median (min)", oi["overall"]["delay_min_median"], fi["overall"]["delay_min_median"])
    row("detection delay p90 (min)", oi["overall"]["delay_min_p90"], fi["overall"]["delay_min_p90"])
    row("event-level F1", ours["event_level"]["overall"]["f1"], first["event_level"]["overall"]["f1"])
    row("event-level PR-AUC", ours["pr_auc_events"], first["pr_auc_events"])
    for kind in INCIDENT_TYPES:
        a, b = oi[kind], fi[kind]
        row(f"  {kind} recall / F1", f"{a['recall']}/{a['f1']}", f"{b['recall']}/{b['f1']}")
    sh = report.get("shuttle")
    if sh:
        lines.append(
            f"Shuttle ROC-AUC (river, third-party): deviation regime {sh['roc_auc_deviation_regime']}, "
            f"global regime {sh['roc_auc_global_regime']} ({sh['protocol']})"
        )
    elif "shuttle_error" in report:
        lines.append(f"Shuttle: not scored ({report['shuttle_error']})")
    return "\n".join(lines)


def _hist(ax: Any, scores: np.ndarray, label: np.ndarray, title: str, threshold: float | None) -> None:
    lo, hi = np.quantile(scores, 0.001), np.quantile(scores, 0.999)
    bins = np.linspace(lo, hi, 60)
    ax.hist(np.clip(scores[~label], lo, hi), bins=bins, alpha=0.6, density=True, label="normal events")
    ax.hist(np.clip(scores[label], lo, hi), bins=bins, alpha=0.6, density=True, label="incident events")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label="alert threshold")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("score, higher = more anomalous (clipped to 0.1-99.9th percentile)")
    ax.legend(fontsize=8)


def write_report(report: dict[str, Any], curves: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.png`` into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "report.json", out / "report.png"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    label = np.asarray(curves["label"], dtype=bool)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    _hist(
        axes[0],
        curves["our_scores"],
        label,
        "Ours: calibrated score (decades of rarity)",
        curves["threshold"],
    )
    _hist(axes[1], curves["first_scores"], label, "First design: -score_samples", None)
    ax = axes[2]
    for key, name in (("ours", "ours"), ("first", "first design")):
        c = curves[key]
        ax.plot(c["recall"], c["precision"], label=name)
    ax.set_xlabel("recall (events)")
    ax.set_ylabel("precision (events)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    oi, fi = report["ours"]["incident_level"]["overall"], report["first_design"]["incident_level"]["overall"]
    ax.set_title(f"Event-level precision-recall\nincident F1: ours {oi['f1']}, first design {fi['f1']}")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.suptitle(f"LabStream detector evaluation, seed {report['seed']} (synthetic incident stream)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return json_path, png_path
