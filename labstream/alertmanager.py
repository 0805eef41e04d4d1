"""``labstream alertmanager``: the alerts topic into Alertmanager's v2 API (``POST /api/v2/alerts``).

Alertmanager cannot read Kafka, and it models an alert as a label set that is active until its
``endsAt``: a client that stops re-sending an alert sees it resolved after ``resolve_timeout``
(5 minutes by default). So the bridge:

- reads the alerts topic with its own consumer group (``alertmanager_group``) and commits a record
  only once Alertmanager has accepted it;
- keeps the active set (firing/updated records, by ``alert_id``) and re-sends it every
  ``alertmanager_resend_s`` (one minute by default, well inside ``resolve_timeout``), with no
  ``endsAt``, so Alertmanager keeps each alert active for ``resolve_timeout`` past the last send;
- sends a resolved record with ``endsAt`` = its ``ended_at`` and drops it from the set;
- after a restart rebuilds the active set by reading the topic from its beginning (without the
  group), then goes on from the group's committed offsets.

An alert's identity in Alertmanager is its labels: ``alertname`` (the alert type), ``severity``
(high → critical, medium → warning, low → info), ``alert_id``, ``fingerprint``, the record's
labels (lab, environment, team, and partition or exercise where present), ``device`` for a
network anomaly and ``model_version`` where there is one. These do not change over an incident
(the severity label is that of the record; a rise re-sends the alert under its new severity, and
the old one is ended). The subject of a student alert (a pseudonym) goes in an annotation only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from foundation.settings import Settings
from schemas import Alert

log = logging.getLogger(__name__)

SEVERITY = {"high": "critical", "medium": "warning", "low": "info"}
_CHUNK = 500  # alerts per POST


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def postable(alert: Alert) -> dict[str, Any]:
    """The Alertmanager ``postableAlert`` of one record (``endsAt`` only when resolved)."""
    labels = {
        "alertname": alert.alert_type,
        "severity": SEVERITY[alert.severity],
        "alert_id": alert.alert_id,
        "fingerprint": alert.fingerprint,
        **alert.labels,
    }
    if alert.alert_type == "network_anomaly":
        labels["device"] = alert.subject
    if alert.model_version:
        labels["model_version"] = alert.model_version
    annotations = {
        "summary": alert.summary,
        "subject": alert.subject,
        "count": str(alert.count),
        "last_seen_at": _iso(alert.last_seen_at),
    }
    if alert.links.runbook:
        annotations["runbook_url"] = alert.links.runbook
    if alert.links.dashboard:
        annotations["dashboard_url"] = alert.links.dashboard
    if alert.recommendations:
        annotations["description"] = "; ".join(alert.recommendations)
    out: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": _iso(alert.started_at)}
    if alert.links.dashboard:
        out["generatorURL"] = alert.links.dashboard
    if alert.status == "resolved":
        out["endsAt"] = _iso(alert.ended_at or alert.last_seen_at)
    return out


class ActiveSet:
    """The alerts Alertmanager must keep active, by ``alert_id``; what each record makes the bridge send.

    >>> s = ActiveSet()
    >>> from schemas.outputs import alert_fingerprint
    >>> a = Alert(alert_id="a1", fingerprint="f", alert_type="model_drift", severity="high",
    ...           subject="model:v1", started_at="2026-03-02T10:00:00Z", last_seen_at="2026-03-02T10:00:00Z")
    >>> [p["labels"]["severity"] for p in s.apply(a)], len(s)
    (['critical'], 1)
    >>> done = a.model_copy(update={"status": "resolved", "ended_at": a.last_seen_at})
    >>> [p["endsAt"] for p in s.apply(done)], len(s)
    (['2026-03-02T10:00:00Z'], 0)
    """

    def __init__(self) -> None:
        self.active: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.active)

    def apply(self, alert: Alert) -> list[dict[str, Any]]:
        p = postable(alert)
        before = self.active.get(alert.alert_id)
        out = []
        if before is not None and before["labels"] != p["labels"]:
            # a severity rise changes the label set: end the alert under its old labels
            out.append({**before, "endsAt": p.get("endsAt", _iso(alert.last_seen_at))})
        if alert.status == "resolved":
            self.active.pop(alert.alert_id, None)
        else:
            self.active[alert.alert_id] = p
        out.append(p)
        return out

    def all(self) -> list[dict[str, Any]]:
        return list(self.active.values())


def post_alerts(url: str, alerts: list[dict[str, Any]], timeout: float = 10.0) -> None:
    """``POST {url}/api/v2/alerts``; raises ``OSError`` (URLError, HTTPError) when not accepted."""
    for i in range(0, len(alerts), _CHUNK):
        body = json.dumps(alerts[i : i + _CHUNK]).encode()
        req = urllib.request.Request(  # noqa: S310 - the operator's configured Alertmanager URL
            url.rstrip("/") + "/api/v2/alerts",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            resp.read()


class Bridge:
    """The running bridge (see the module docstring). ``run`` blocks until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        post: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.topic = settings.topics.alerts
        self.post = post or (lambda alerts: post_alerts(settings.alertmanager_url, alerts))
        self.active = ActiveSet()
        self.stop = threading.Event()
        self.sent = 0

    def _decode(self, raw: bytes | None) -> Alert | None:
        try:
            return Alert.model_validate_json(raw or b"")
        except ValueError:
            log.warning("alerts topic: a record that is not an alert was skipped")
            return None

    def rebuild(self) -> int:
        """Replay the topic from its beginning into the active set (no posts); records read."""
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_list, enable_auto_commit=False)
        try:
            parts = c.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            if not tps:
                return 0
            c.assign(tps)
            c.seek_to_beginning(*tps)
            end = c.end_offsets(tps)
            n = 0
            while any(c.position(tp) < end[tp] for tp in tps) and not self.stop.is_set():
                for records in c.poll(timeout_ms=500).values():
                    for r in records:
                        alert = self._decode(r.value)
                        if alert is not None:
                            self.active.apply(alert)
                            n += 1
            return n
        finally:
            c.close()

    def _send(self, alerts: list[dict[str, Any]]) -> None:
        delay = 0.5
        while not self.stop.is_set():
            try:
                self.post(alerts)
                self.sent += len(alerts)
                return
            except OSError as e:
                log.warning(
                    "Alertmanager did not accept %d alerts (%s); retrying", len(alerts), type(e).__name__
                )
                self.stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def run(self) -> None:
        from kafka import KafkaConsumer

        self.rebuild()
        if self.active.all():
            self._send(self.active.all())
        consumer = KafkaConsumer(
            self.topic,
            bootstrap_servers=self.settings.bootstrap_list,
            group_id=self.settings.alertmanager_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        next_resend = time.monotonic() + self.settings.alertmanager_resend_s
        try:
            while not self.stop.is_set():
                batch = consumer.poll(timeout_ms=500)
                out: list[dict[str, Any]] = []
                for records in batch.values():
                    for r in records:
                        alert = self._decode(r.value)
                        if alert is not None:
                            out.extend(self.active.apply(alert))
                if out:
                    self._send(out)
                if batch and not self.stop.is_set():
                    consumer.commit()  # only what Alertmanager accepted
                if time.monotonic() >= next_resend:
                    if self.active.all():
                        self._send(self.active.all())
                    next_resend = time.monotonic() + self.settings.alertmanager_resend_s
        finally:
            consumer.close()
