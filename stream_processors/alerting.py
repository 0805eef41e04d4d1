"""Alert records of schema version 2: labels, links, summary and fingerprint around an incident's state.

The pipelines decide *when* a record is written (:mod:`detector.episodes`); this module decides
what it says. :class:`AlertContext` carries what comes from settings (lab, environment, team, a
per-device label mapping, the runbook and Grafana base URLs) and turns a
:class:`detector.episodes.Transition` into an :class:`schemas.Alert`.

>>> ctx = AlertContext(lab="lab-a", environment="production", team="netops",
...                    device_labels={"core-*": {"team": "core"}})
>>> ctx.labels("core-r1")
{'lab': 'lab-a', 'environment': 'production', 'team': 'core'}
>>> ctx.links("network_anomaly", "core-r1").dashboard
'http://localhost:3000/d/labstream-overview/labstream?var-device=core-r1'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

from schemas import Alert, Reason
from schemas.outputs import AlertLinks, alert_fingerprint

DASHBOARD_UID = "labstream-overview"  # deploy/grafana/dashboards/labstream.json


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class AlertContext:
    """Labels and links of alerts, from settings (see :meth:`from_settings`)."""

    lab: str = "labstream"
    environment: str = "development"
    team: str = "netops"
    device_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    runbook_base_url: str = "https://runbooks.labstream.invalid"
    grafana_base_url: str = "http://localhost:3000"

    @classmethod
    def from_settings(cls, settings: Any) -> AlertContext:
        return cls(
            lab=settings.alert_lab,
            environment=settings.environment,
            team=settings.alert_team,
            device_labels=dict(settings.alert_device_labels),
            runbook_base_url=settings.runbook_base_url,
            grafana_base_url=settings.grafana_base_url,
        )

    def labels(self, device: str | None = None) -> dict[str, str]:
        """``lab``, ``environment``, ``team``; a device matching a mapping pattern gets its overrides."""
        out = {"lab": self.lab, "environment": self.environment, "team": self.team}
        if device is not None:
            for pattern, extra in self.device_labels.items():
                if fnmatchcase(device, pattern):
                    out.update(extra)
                    break
        return out

    def links(self, alert_type: str, device: str | None = None) -> AlertLinks:
        dashboard = f"{self.grafana_base_url.rstrip('/')}/d/{DASHBOARD_UID}/labstream"
        if device is not None:
            dashboard += f"?var-device={quote(device, safe='')}"
        return AlertLinks(runbook=f"{self.runbook_base_url.rstrip('/')}/{alert_type}", dashboard=dashboard)

    def record(
        self,
        alert_type: str,
        subject: str,
        status: str,
        state: dict[str, Any],
        *,
        summary: str,
        reason: str | None = None,
        device: str | None = None,
        model_version: str | None = None,
        reasons: list[dict[str, Any]] | None = None,
        recommendations: list[str] | None = None,
        extra_labels: dict[str, str] | None = None,
    ) -> Alert:
        """The alert record of one transition of an incident whose state is ``state`` (see episodes)."""
        ended = state.get("ended_at") if status == "resolved" else None
        return Alert(
            alert_id=state["alert_id"],
            fingerprint=alert_fingerprint(alert_type, subject),
            status=status,  # type: ignore[arg-type]
            alert_type=alert_type,
            severity=state["severity"],
            subject=subject,
            started_at=_at(float(state["started_at"])),
            last_seen_at=_at(float(state["last_seen_at"])),
            ended_at=_at(float(ended)) if ended is not None else None,
            resolution=reason if status == "resolved" else None,  # type: ignore[arg-type]
            summary=summary,
            labels={**self.labels(device), **(extra_labels or {})},
            links=self.links(alert_type, device),
            score=float(state["score"]),
            model_version=model_version,
            reasons=[Reason(**r) for r in (reasons or [])],
            recommendations=list(recommendations or []),
            event_ids=[str(i) for i in state.get("event_ids", [])],
            count=int(state["count"]),
        )


def duration_text(seconds: float) -> str:
    """``45s``, ``12m``, ``3h05m``: for summaries and ``labstream alerts``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
