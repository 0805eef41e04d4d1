"""Metrics pipeline: score device readings in micro-batches against the anomaly model.

Each device is judged against its own baseline (kept in a table), so a device
that normally runs hot is not an anomaly. One alert per device per incident:
an incident lasts while anomalous readings arrive less than ``alert_window_s``
apart (event time), so the alert goes out at the first anomalous batch and the
rest of the incident is folded into the device's incident state. The alert id
is derived from the device and the incident's first event, so a replay after a
crash produces the same id, not a second alert.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector import Detector, DriftMonitor
from schemas import METRIC_FIELDS, Alert, NetworkMetrics, Reason
from stream_processors.metrics import WorkerMetrics, observe_many
from stream_processors.records import BatchResult, Output, Record, TimeBounds, parse_many

_ALERT_NS = uuid.UUID("0b8f3a52-7d2e-4d3c-8c7e-5f0e1e2d9a41")
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
# a reading's features in the detector's column order (that of NetworkMetrics.features())
_FEATURES = operator.attrgetter(*METRIC_FIELDS)
_DEVICE_ID = operator.attrgetter("device_id")


@dataclass(slots=True)
class ModelHolder:
    """The model a worker scores with; swapped whole when a new version is promoted."""

    detector: Detector
    drift: DriftMonitor | None = None


class MetricsPipeline:
    def __init__(
        self,
        alerts_topic: str,
        model: ModelHolder,
        baselines: MutableMapping[str, Any],
        incidents: MutableMapping[str, Any],
        metrics: WorkerMetrics,
        alert_window_s: float,
        bounds: TimeBounds | None = None,
    ) -> None:
        self.alerts_topic = alerts_topic
        self.model = model
        self.baselines = baselines
        self.incidents = incidents
        self.metrics = metrics
        self.alert_window_s = alert_window_s
        self.bounds = bounds  # occurred_at out of range: a validate dead letter (issue 14)

    def process(self, records: list[Record]) -> BatchResult:
        """Score a batch: the parsed values straight into one feature matrix, vectorised scoring,
        one table write per device, one histogram update; Python objects only for anomalies."""
        result = BatchResult()
        events: list[NetworkMetrics] = [
            e for _, e in parse_many(records, NetworkMetrics, result, self.bounds)
        ]
        if not events:
            return result
        holder = self.model  # one model for the whole batch, even if a swap happens meanwhile
        detector = holder.detector
        rows = np.array(list(map(_FEATURES, events)), dtype=np.float64)
        device_ids: list[str] = list(map(_DEVICE_ID, events))
        # first-seen order (deterministic changelog order); each device's state read and written once
        baselines = {d: dict(self.baselines.get(d) or {}) for d in dict.fromkeys(device_ids)}
        scores, anomalies = detector.score_anomalies(rows, device_ids, baselines)
        for device, state in baselines.items():
            self.baselines[device] = state
        observe_many(self.metrics.anomaly_score, scores)
        by_device: dict[str, list[int]] = {}
        for i in anomalies:  # ascending row index: event order within each device
            by_device.setdefault(device_ids[i], []).append(i)
        for device, idx in by_device.items():
            for group in self._windows(device, [events[i] for i in idx], [anomalies[i] for i in idx]):
                out = self._incident(device, *group, detector.version)
                if out is not None:
                    result.outputs.append(out)
        if holder.drift is not None:
            report = holder.drift.update(rows)
            if report is not None:
                for psi_feature, psi in report.psi.items():
                    self.metrics.drift_psi.labels(feature=psi_feature).set(psi)
                if report.drifted:
                    result.outputs.append(self._drift_alert(report, detector.version, events[-1]))
        return result

    def _windows(
        self, device: str, events: list[NetworkMetrics], verdicts: list[Any]
    ) -> list[tuple[list[NetworkMetrics], list[Any]]]:
        """Split one device's anomalous readings of a batch into incidents, in event order.

        An incident goes on while anomalous readings come less than ``alert_window_s`` apart (a
        session window), so the decaying tail of a spike belongs to the spike's incident.
        """
        groups: list[tuple[list[NetworkMetrics], list[Any]]] = []
        last: float | None = None
        for e, v in zip(events, verdicts, strict=True):
            ts = e.occurred_at.timestamp()
            if last is None or ts - last >= self.alert_window_s:
                groups.append(([], []))
            last = ts
            groups[-1][0].append(e)
            groups[-1][1].append(v)
        return groups

    def _incident(
        self, device: str, events: list[NetworkMetrics], verdicts: list[Any], version: str
    ) -> Output | None:
        first_ts = events[0].occurred_at.timestamp()
        last_ts = events[-1].occurred_at.timestamp()
        state = self.incidents.get(device)
        if state is not None and first_ts - float(state["last_at"]) < self.alert_window_s:
            self.incidents[device] = {
                **state,
                "count": int(state["count"]) + len(events),
                "last_at": max(last_ts, float(state["last_at"])),
            }
            return None
        worst = max(range(len(verdicts)), key=lambda i: verdicts[i].score)
        severity = max((v.severity or "low" for v in verdicts), key=_SEVERITY_RANK.__getitem__)
        alert_id = str(uuid.uuid5(_ALERT_NS, f"network_anomaly:{device}:{events[0].event_id}"))
        self.incidents[device] = {
            "alert_id": alert_id,
            "opened_at": first_ts,
            "last_at": last_ts,
            "count": len(events),
        }
        recommendations: list[str] = []
        for v in verdicts:
            for r in v.recommendations:
                if r not in recommendations:
                    recommendations.append(r)
        alert = Alert(
            alert_id=alert_id,
            alert_type="network_anomaly",
            severity=severity,  # type: ignore[arg-type]
            subject=device,
            detected_at=events[0].occurred_at,
            score=float(verdicts[worst].score),
            model_version=version,
            reasons=[Reason(**r) for r in verdicts[worst].reasons],
            recommendations=recommendations,
            event_ids=[str(e.event_id) for e in events],
            count=len(events),
        )
        self.metrics.alerts.labels(alert_type="network_anomaly", severity=severity).inc()
        return Output(self.alerts_topic, device, alert.to_bytes())

    def _drift_alert(self, report: Any, version: str, last: NetworkMetrics) -> Output:
        subject = f"model:{version}"
        alert = Alert(
            alert_id=str(
                uuid.uuid5(_ALERT_NS, f"model_drift:{version}:{','.join(report.drifted)}:{last.event_id}")
            ),
            alert_type="model_drift",
            severity="medium",
            subject=subject,
            detected_at=last.occurred_at,
            score=float(max(report.psi[f] for f in report.drifted)),
            model_version=version,
            reasons=[
                Reason(feature=f, value=float(report.psi[f]), expected=0.0, deviation=float(report.psi[f]))
                for f in report.drifted
            ],
            recommendations=[
                "Live traffic no longer looks like the training data for: " + ", ".join(report.drifted),
                "Retrain on recent network-metrics (labstream model train) and compare with evaluate",
            ],
        )
        self.metrics.alerts.labels(alert_type="model_drift", severity="medium").inc()
        return Output(self.alerts_topic, subject, alert.to_bytes())
