"""Prometheus metrics of a LabStream worker.

The owner of the metrics takes a ``CollectorRegistry``; tests build a fresh
one and read values with ``registry.get_sample_value``. Label values are
bounded sets (topics, agents, stages, categories, severities, features):
never a student, pseudonym or event id. One exception, bounded too: the open-incidents gauge is
labelled by device id, one series per device with an open network incident, removed when the
incident is resolved (Grafana's "open incidents by device").

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> m = WorkerMetrics(reg)
>>> m.events_in.labels(topic="lab-events").inc()
>>> reg.get_sample_value("labstream_events_in_total", {"topic": "lab-events"})
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_INCIDENT_BUCKETS = (60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
# detector scores are "decades of rarity" (0 = typical, 3 ≈ 1 in 1,000 normal readings), alerts start near 4-6
_SCORE_BUCKETS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)


# label values of the per-table metrics: the worker's state tables, by role (never a key)
TABLES = ("sessions", "students", "baselines", "incidents", "exercises", "device_types")


class WorkerMetrics:
    """Every metric family a worker exports, registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_in = Counter(
            "labstream_events_in", "Events consumed, by input topic.", ["topic"], registry=registry
        )
        self.events_out = Counter(
            "labstream_events_out", "Records produced, by output topic.", ["topic"], registry=registry
        )
        self.processing_seconds = Histogram(
            "labstream_processing_seconds",
            "From an event's Kafka timestamp to its outputs delivered, per agent (0 without a timestamp).",
            ["agent"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "labstream_dead_letters",
            "Events sent to dead-letters, by original topic, stage and error class.",
            ["topic", "stage", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "labstream_worker_retries",
            "Transient failures retried with back-off (never dead-lettered), by stage (process, deliver).",
            ["stage"],
            registry=registry,
        )
        self.expired_keys = Counter(
            "labstream_state_expired_keys",
            "Idle table keys deleted (a tombstone in the changelog), by table.",
            ["table"],
            registry=registry,
        )
        self.table_keys = Gauge(
            "labstream_table_keys",
            "Keys in each state table held by this worker (active and standby partitions), set on each "
            "expiry sweep: flat under churning keys when idle state expires.",
            ["table"],
            registry=registry,
        )
        for table in TABLES:  # exported at 0 before the first sweep
            self.table_keys.labels(table=table)
        for stage in ("process", "deliver"):  # exported at 0 before the first one
            self.retries.labels(stage=stage)
        for table in ("sessions", "students"):
            self.expired_keys.labels(table=table)
        self.alerts = Counter(
            "labstream_alerts",
            "Alerts emitted, by type and severity.",
            ["alert_type", "severity"],
            registry=registry,
        )
        self.command_categories = Counter(
            "labstream_command_categories",
            "Categorised commands, by category and device type.",
            ["category", "device_type"],
            registry=registry,
        )
        self.code_checks = Counter(
            "labstream_code_checks",
            "Code checks, by language and outcome (ok, syntax_error, limit).",
            ["language", "outcome"],
            registry=registry,
        )
        self.anomaly_score = Histogram(
            "labstream_anomaly_score",
            "Anomaly scores of metric events (higher is more anomalous).",
            buckets=_SCORE_BUCKETS,
            registry=registry,
        )
        self.model_info = Info("labstream_model", "Anomaly model this worker scores with.", registry=registry)
        self.model_version_loaded = Gauge(
            "labstream_model_loaded", "1 when an anomaly model is loaded.", registry=registry
        )
        self.drift_psi = Gauge(
            "labstream_drift_psi",
            "Population stability index of a feature vs training data.",
            ["feature"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "labstream_consumer_lag",
            "End offset minus the next offset this worker has yet to process (not commit), per partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.open_incidents_gauge = Gauge(
            "labstream_open_incidents",
            "Open network-anomaly incidents, by device (a series exists only while one is open).",
            ["device"],
            registry=registry,
        )
        self.open_incidents = _OpenIncidents(self.open_incidents_gauge)
        self.incident_seconds = Histogram(
            "labstream_incident_duration_seconds",
            "Event-time duration of resolved incidents (first to last anomalous reading), by alert type.",
            ["alert_type"],
            buckets=_INCIDENT_BUCKETS,
            registry=registry,
        )
        for alert_type in ("network_anomaly", "model_drift", "struggling_student"):
            self.incident_seconds.labels(alert_type=alert_type)  # exported at 0 before the first one
        self.exercise_insight = Gauge(
            "labstream_exercise_insight",
            "An exercise's latest day window (topic exercise-insights): submissions, distinct_students, "
            "syntax_error_rate, grader_failure_rate. Exercise ids only (course data, never a student); at "
            "most 500 exercises a worker, the rest in labstream_exercise_insight_dropped_total.",
            ["exercise", "stat"],
            registry=registry,
        )
        self.exercise_insight_dropped = Counter(
            "labstream_exercise_insight_dropped",
            "Exercise insight updates not exported as metrics because 500 exercises already are.",
            registry=registry,
        )
        self.assigned_partitions = Gauge(
            "labstream_assigned_partitions", "Partitions assigned to this worker.", registry=registry
        )


class _OpenIncidents:
    """The open-incidents gauge: 1 per device with an open incident; the series goes when it closes."""

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge

    def set_device(self, device: str) -> None:
        self.gauge.labels(device=device).set(1)

    def remove_device(self, device: str) -> None:
        try:
            self.gauge.remove(device)
        except KeyError:
            pass  # never published by this worker (opened before a restart or on another worker)


def observe_many(histogram: Histogram, values: Any) -> None:
    """``histogram.observe(v)`` for every ``v`` in ``values`` (a numpy array or a sequence), in one go.

    Same buckets (a value goes to the first bucket whose upper bound is ``>=`` it; NaN to none), same
    ``_count`` and ``_sum`` (added as the batch's total) as observing one value at a time, for a
    fraction of the cost: one ``searchsorted`` and one increment per non-empty bucket instead of a
    Python call, a loop over the bounds and a lock per value. Falls back to ``observe`` per value
    if prometheus-client's histogram internals are not the ones this was written against.
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    known = not hasattr(histogram, "_count")  # a future client keeping its own count: stay exact
    if not known or bounds is None or buckets is None or total is None or len(buckets) != len(bounds):
        for v in arr.tolist():
            histogram.observe(v)
        return
    histogram._raise_if_not_observable()  # noqa: SLF001 - same check as observe() (a labelled parent)
    counts = np.bincount(np.searchsorted(np.asarray(bounds, dtype=np.float64), arr, side="left"))
    for i in np.flatnonzero(counts[: len(buckets)]).tolist():
        buckets[i].inc(int(counts[i]))
    total.inc(float(arr.sum()))
