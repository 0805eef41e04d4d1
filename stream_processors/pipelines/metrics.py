"""Metrics pipeline: score device readings in micro-batches and keep each device's incident lifecycle.

Each device is judged against its own baseline (kept in a table), so a device that normally runs
hot is not an anomaly. Which readings open, raise and end an incident is decided by one rule,
:class:`detector.episodes.EpisodeRule` (the one ``labstream model evaluate`` scores): the
pipeline steps each device's readings through it in event order and writes an alert record
(schema version 2) for each transition: ``firing`` at the incident's first anomalous reading,
``updated`` when its severity rises, ``resolved`` once a later reading of the device comes a
window after the last anomalous one. The incident's state (``device-incidents`` table) holds
only open incidents; a resolved incident's key is deleted. The alert id is derived from the device
and the incident's first event, so a replay after a crash produces the same records.

Batch boundaries do not change the records: scoring is sequential per device
(:mod:`detector.baseline`), the rule sees one reading at a time, and drift is judged over
windows counted in readings. :meth:`MetricsPipeline.sweep` (a worker timer) resolves the
incidents of silent devices ("no data": the same record the device's next reading would have
given) and deletes the state of devices idle for ``state_ttl_s`` (tombstones on the changelogs).

Drift is judged per input partition (see :class:`_DriftEpisodes`).
"""

from __future__ import annotations

import operator
import time
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector import Detector, DriftMonitor
from detector.episodes import EpisodeRule, Transition
from schemas import METRIC_FIELDS, NetworkMetrics
from stream_processors.alerting import AlertContext, duration_text
from stream_processors.metrics import WorkerMetrics, observe_many
from stream_processors.records import BatchResult, Output, Record, TimeBounds, parse_many

_ALERT_NS = uuid.UUID("0b8f3a52-7d2e-4d3c-8c7e-5f0e1e2d9a41")
# a reading's features in the detector's column order (that of NetworkMetrics.features())
_FEATURES = operator.attrgetter(*METRIC_FIELDS)
_DEVICE_ID = operator.attrgetter("device_id")
_NETWORK = "network_anomaly"


@dataclass(slots=True)
class ModelHolder:
    """The model a worker scores with; swapped whole when a new version is promoted."""

    detector: Detector
    drift: DriftMonitor | None = None  # the template: reference, window and threshold


class MetricsPipeline:
    def __init__(
        self,
        alerts_topic: str,
        model: ModelHolder,
        baselines: MutableMapping[str, Any],
        incidents: MutableMapping[str, Any],
        metrics: WorkerMetrics,
        alert_window_s: float,
        *,
        context: AlertContext | None = None,
        no_data_s: float | None = None,
        state_ttl_s: float | None = None,
        bounds: TimeBounds | None = None,
    ) -> None:
        self.alerts_topic = alerts_topic
        self.model = model
        self.baselines = baselines
        self.incidents = incidents
        self.metrics = metrics
        self.alert_window_s = alert_window_s
        self.rule = EpisodeRule(alert_window_s, no_data_s)
        self.context = context or AlertContext()
        self.state_ttl_s = state_ttl_s
        self.drift = _DriftEpisodes()
        # per input partition: the latest event time seen, and when (wall clock)
        self._marks: dict[int, tuple[float, float]] = {}
        self.bounds = bounds  # occurred_at out of range: a validate dead letter

    def process(self, records: list[Record]) -> BatchResult:
        """Score a batch: the parsed values straight into one feature matrix, vectorised scoring,
        one table write per device, one histogram update; Python objects only for anomalies and
        devices with an open incident."""
        result = BatchResult()
        parsed = parse_many(records, NetworkMetrics, result, self.bounds)
        if not parsed:
            return result
        events: list[NetworkMetrics] = [e for _, e in parsed]
        holder = self.model  # one model for the whole batch, even if a swap happens meanwhile
        detector = holder.detector
        rows = np.array(list(map(_FEATURES, events)), dtype=np.float64)
        device_ids: list[str] = list(map(_DEVICE_ID, events))
        stamps = [e.occurred_at.timestamp() for e in events]
        # first-seen order (deterministic changelog order); each device's state read and written once
        baselines = {d: dict(self.baselines.get(d) or {}) for d in dict.fromkeys(device_ids)}
        last_at = dict(zip(device_ids, stamps, strict=True))  # each device's last reading in the batch
        scores, anomalies = detector.score_anomalies(rows, device_ids, baselines)
        for device, state in baselines.items():
            self.baselines[device] = {**state, "at": last_at[device]}  # "at": for idle-state expiry
        observe_many(self.metrics.anomaly_score, scores)
        part_of = {e.device_id: r.partition for r, e in parsed}
        self._lifecycle(events, device_ids, stamps, anomalies, detector.version, part_of, result)
        if holder.drift is not None:
            for i, report in self.drift.update(holder.drift, detector.version, parsed, rows):
                for psi_feature, psi in report.psi.items():
                    self.metrics.drift_psi.labels(feature=psi_feature).set(psi)
                out = self.drift.judge(report, detector.version, parsed[i][0].partition, events[i])
                if out is not None:
                    result.outputs.append(self._drift_record(*out))
        self._advance(parsed, stamps)
        return result

    def _advance(self, parsed: list[tuple[Record, NetworkMetrics]], stamps: list[float]) -> None:
        """Move each partition's clock to its latest reading (a fetched batch is one partition)."""
        wall = time.time()
        parts = {r.partition for r, _ in parsed}
        groups: dict[int, float] = {}
        if len(parts) == 1:
            groups[parts.pop()] = max(stamps)
        else:
            for (record, _), ts in zip(parsed, stamps, strict=True):
                if ts > groups.get(record.partition, -np.inf):
                    groups[record.partition] = ts
        for p, ts in groups.items():
            mark = self._marks.get(p)
            if mark is None or ts > mark[0]:
                self._marks[p] = (ts, wall)

    # --- network anomalies ---------------------------------------------------
    def _lifecycle(
        self,
        events: list[NetworkMetrics],
        device_ids: list[str],
        stamps: list[float],
        anomalies: dict[int, Any],
        version: str,
        part_of: dict[str, int],
        result: BatchResult,
    ) -> None:
        """Step the readings of every device that has an anomaly or an open incident through the rule."""
        candidates = {device_ids[i] for i in anomalies}
        candidates.update(d for d in dict.fromkeys(device_ids) if self.incidents.get(d) is not None)
        if not candidates:
            return
        states = {d: _open_state(self.incidents.get(d)) for d in candidates}
        for i, device in enumerate(device_ids):
            if device not in candidates:
                continue
            v = anomalies.get(i)
            eid = str(events[i].event_id)
            if v is None:
                state, trans = self.rule.step(states[device], f"{_NETWORK}:{device}", stamps[i], eid)
            else:
                state, trans = self.rule.step(
                    states[device],
                    f"{_NETWORK}:{device}",
                    stamps[i],
                    eid,
                    severity=v.severity or "low",
                    score=float(v.score),
                    peak={"reasons": v.reasons, "recommendations": v.recommendations},
                )
            if state is not None and "model_version" not in state:
                state = {**state, "model_version": version}  # one model version per incident (its identity)
            if state is not None and state.get("partition") != part_of[device]:
                state = {**state, "partition": part_of[device]}  # whose clock judges its silence (sweep)
            states[device] = state
            for tr in trans:
                result.outputs.append(self._network_record(device, tr, version))
        for device, state in states.items():
            before = self.incidents.get(device)
            if state is None:
                if before is not None:
                    del self.incidents[device]
            elif state != before:
                self.incidents[device] = state

    def _network_record(self, device: str, tr: Transition, version: str) -> Output:
        st = tr.state
        peak = st.get("peak") or {}
        reasons = peak.get("reasons") or []
        sev = st["severity"]
        if tr.status == "resolved":
            summary = (
                f"{device}: network anomaly over ({tr.reason}) after "
                f"{duration_text(float(st['ended_at']) - float(st['started_at']))}, "
                f"{st['count']} anomalous readings"
            )
            self.metrics.incident_seconds.labels(alert_type=_NETWORK).observe(
                float(st["ended_at"]) - float(st["started_at"])
            )
            self.metrics.open_incidents.remove_device(device)
        else:
            what = ", ".join(
                f"{r['feature']} {r['value']:.3g} (normal {r['expected']:.3g})" for r in reasons[:2]
            )
            verb = "anomaly" if tr.status == "firing" else "anomaly now"
            summary = f"{device}: {sev} network {verb}" + (f": {what}" if what else "")
            self.metrics.open_incidents.set_device(device)
            self.metrics.alerts.labels(alert_type=_NETWORK, severity=sev).inc()
        alert = self.context.record(
            _NETWORK,
            device,
            tr.status,
            st,
            summary=summary,
            reason=tr.reason,
            device=device,
            model_version=st.get("model_version", version),
            reasons=reasons,
            recommendations=peak.get("recommendations") or [],
        )
        return Output(self.alerts_topic, device, alert.to_bytes())

    # --- the timer -------------------------------------------------------------
    def sweep(self, now: float | None = None) -> BatchResult:
        """Resolve the incidents of silent devices and delete idle devices' state (a worker timer).

        "Now" is event time, per input partition: the latest reading of the device's partition,
        moved on by the wall-clock time since it was seen. A device is silent when its own
        partition's clock has passed its last reading by ``no_data_s``: then any later reading of
        it would resolve the incident with the same record, so the sweep does not depend on how
        far other partitions are (a lagging partition is judged by its own clock). The wall-clock
        part resolves a partition that stopped altogether. After a restart a partition's clock
        starts from its devices' latest readings in the tables.
        """
        wall = time.time() if now is None else now
        result = BatchResult()
        open_states = {
            d: s for d in list(self.incidents) if (s := _open_state(self.incidents.get(d))) is not None
        }
        for state in open_states.values():
            p = int(state.get("partition", -1))
            if p not in self._marks:
                latest = max(
                    float(s["last_reading_at"]) for s in open_states.values() if s.get("partition", -1) == p
                )
                self._marks[p] = (latest, wall)
        for device, state in open_states.items():
            ts, seen = self._marks[int(state.get("partition", -1))]
            done, tr = self.rule.expire(state, ts + max(0.0, wall - seen))
            if tr is None:
                self.metrics.open_incidents.set_device(device)  # re-published after a restart
                continue
            result.outputs.append(self._network_record(device, tr, str(tr.state.get("model_version", ""))))
            del self.incidents[device]
        if self.state_ttl_s is not None:
            if self._marks:
                event_now = max(ts + max(0.0, wall - seen) for ts, seen in self._marks.values())
            else:
                at = [
                    float(s["at"]) for s in map(self.baselines.get, list(self.baselines)) if s and "at" in s
                ]
                if not at:
                    return result
                event_now = max(at)
            for device in list(self.baselines):
                st = self.baselines.get(device)
                if isinstance(st, dict) and event_now - float(st.get("at", event_now)) >= self.state_ttl_s:
                    del self.baselines[device]
                    if self.incidents.get(device) is not None:
                        del self.incidents[device]
        return result

    # --- drift -------------------------------------------------------------------
    def _drift_record(self, partition: int, tr: Transition, version: str, features: list[str]) -> Output:
        st = tr.state
        subject = f"model:{version}"
        if tr.status == "resolved":
            summary = (
                f"model {version}: drift over on partition {partition} after "
                f"{duration_text(float(st['ended_at']) - float(st['started_at']))}"
            )
            self.metrics.incident_seconds.labels(alert_type="model_drift").observe(
                float(st["ended_at"]) - float(st["started_at"])
            )
        else:
            summary = (
                f"model {version}: live traffic drifted from training on partition {partition}: "
                + ", ".join(features)
            )
            self.metrics.alerts.labels(alert_type="model_drift", severity=st["severity"]).inc()
        alert = self.context.record(
            "model_drift",
            subject,
            tr.status,
            st,
            summary=summary,
            reason=tr.reason,
            model_version=version,
            reasons=(st.get("peak") or {}).get("reasons") or [],
            recommendations=[
                "Live traffic no longer looks like the training data for: " + ", ".join(features),
                "Retrain on recent network-metrics (labstream model train) and compare with evaluate",
            ],
            extra_labels={"partition": str(partition)},
        )
        return Output(self.alerts_topic, subject, alert.to_bytes())


def _open_state(state: Any) -> dict[str, Any] | None:
    """An incident state as the rule reads it; one written before the lifecycle (``opened_at``,
    ``last_at``) is read as an open incident of low severity; anything else as none."""
    if not isinstance(state, dict):
        return None
    if "last_seen_at" in state:
        return state
    try:
        last = float(state["last_at"])
        return {
            "alert_id": str(state["alert_id"]),
            "started_at": float(state["opened_at"]),
            "last_seen_at": last,
            "last_reading_at": last,
            "count": int(state.get("count", 1)),
            "severity": "low",
            "score": 0.0,
            "event_ids": [],
            "peak": None,
        }
    except (KeyError, TypeError, ValueError):
        return None


class _DriftEpisodes:
    """Drift as one episode per model version and input partition, resolved when the PSI falls back.

    Why per partition and not per worker or fleet-wide: a partition's readings come in one order
    whoever reads them, so its windows, and the episode's id, do not depend on batch boundaries,
    on how many workers run, or on a rebalance; a worker's mix of partitions changes with all of
    those. A fleet-wide judgement needs every reading in one place, which a partitioned worker
    does not have. The episodes of one model version share a fingerprint (type and subject) and
    carry a ``partition`` label, so Alertmanager groups them into one notification. The counts
    live in memory: after a restart a partition's current window starts again (an open episode is
    then resolved or re-opened by the next completed window).
    """

    def __init__(self) -> None:
        self.monitors: dict[tuple[str, int], DriftMonitor] = {}
        self.states: dict[tuple[str, int], dict[str, Any]] = {}

    def update(
        self,
        template: DriftMonitor,
        version: str,
        parsed: list[tuple[Record, NetworkMetrics]],
        rows: np.ndarray,
    ) -> list[tuple[int, Any]]:
        """Completed windows of every partition in the batch, as ``(row index, report)``."""
        by_part: dict[int, list[int]] = {}
        for i, (record, _) in enumerate(parsed):
            by_part.setdefault(record.partition, []).append(i)
        out: list[tuple[int, Any]] = []
        for part, idx in by_part.items():
            mon = self.monitors.get((version, part))
            if mon is None:
                mon = self.monitors[(version, part)] = DriftMonitor(
                    template.reference, window=template.window, threshold=template.threshold
                )
            for j, report in mon.update_all(rows[idx]):
                out.append((idx[j], report))
        return out

    def judge(
        self, report: Any, version: str, partition: int, last: NetworkMetrics
    ) -> tuple[int, Transition, str, list[str]] | None:
        key = (version, partition)
        state = self.states.get(key)
        ts = last.occurred_at.timestamp()
        if not report.drifted:
            if state is None:
                return None
            del self.states[key]
            done = {**state, "ended_at": state["last_seen_at"]}
            return partition, Transition("resolved", done, "recovered"), version, list(state["features"])
        worst = max(report.psi[f] for f in report.drifted)
        severity = "high" if worst > 4 * report.threshold else "medium"
        reasons = [
            {"feature": f, "value": float(report.psi[f]), "expected": 0.0, "deviation": float(report.psi[f])}
            for f in report.drifted
        ]
        if state is None:
            aid = str(uuid.uuid5(_ALERT_NS, f"model_drift:{version}:p{partition}:{last.event_id}"))
            state = {
                "alert_id": aid,
                "started_at": ts,
                "last_seen_at": ts,
                "count": 1,
                "severity": severity,
                "score": worst,
                "event_ids": [str(last.event_id)],
                "features": list(report.drifted),
                "peak": {"reasons": reasons},
            }
            self.states[key] = state
            return partition, Transition("firing", state), version, list(report.drifted)
        rises = severity == "high" and state["severity"] != "high"
        grows = [f for f in report.drifted if f not in state["features"]]
        state = {
            **state,
            "last_seen_at": ts,
            "count": int(state["count"]) + 1,
            "severity": "high" if rises else state["severity"],
            "score": max(worst, float(state["score"])),
            "features": state["features"] + grows,
            "peak": {"reasons": reasons} if (rises or worst > float(state["score"])) else state["peak"],
        }
        self.states[key] = state
        if rises or grows:
            return partition, Transition("updated", state), version, list(state["features"])
        return None
