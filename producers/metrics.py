"""Prometheus metrics of a collector (SDK, HTTP ingest, replay).

>>> from prometheus_client import CollectorRegistry
>>> m = CollectorMetrics(CollectorRegistry())
>>> m.scrubbed.labels(kind="enable_secret").inc()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.published = Counter(
            "labstream_collector_published", "Events handed to Kafka, by topic.", ["topic"], registry=registry
        )
        self.rejected = Counter(
            "labstream_collector_rejected",
            "Events refused by the collector, by reason class.",
            ["reason"],
            registry=registry,
        )
        self.lost = Counter(
            "labstream_collector_lost",
            "Events the collector gave up on after taking them, by reason (must stay 0).",
            ["reason"],
            registry=registry,
        )
        for reason in ("kafka_rejected", "spool_corrupt", "spool_full", "spool_write"):
            self.lost.labels(reason=reason)  # exported at 0: an alert rule can watch a series that exists
        self.scrubbed = Counter(
            "labstream_scrubbed_secrets",
            "Secrets replaced before publishing, by kind.",
            ["kind"],
            registry=registry,
        )
        self.spool_depth = Gauge(
            "labstream_spool_depth", "Events waiting in the on-disk spool.", registry=registry
        )
        self.spool_bytes = Gauge("labstream_spool_bytes", "Bytes in the on-disk spool.", registry=registry)
        self.spooled = Counter(
            "labstream_spooled",
            "Events written to the spool because Kafka was unavailable.",
            registry=registry,
        )
        self.http_requests = Counter(
            "labstream_http_requests",
            "HTTP requests, by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "labstream_http_request_seconds",
            "HTTP request duration, by route.",
            ["route"],
            registry=registry,
        )
