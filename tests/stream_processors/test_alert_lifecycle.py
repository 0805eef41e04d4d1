"""The metrics pipeline's alert lifecycle on one labelled stream: same records whatever the batches.

The stream is the evaluation's labelled incident generator (SYNTHETIC), spread over two partitions
by device as Kafka would. Each run feeds every partition's records in order, cut into batches of a
given size, the partitions' batches interleaved. Tables are plain dicts here (the worker's are
Faust tables of JSON values); "a restart" builds a new pipeline whose tables are the old ones
written to JSON and read back, as a worker recovers them from their changelogs.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from detector import Detector, ModelRegistry
from detector.incidents import LabelledStream, incident_stream
from detector.metrics import raise_alerts
from detector.synthetic import Variation
from schemas import Alert, NetworkMetrics
from stream_processors.metrics import WorkerMetrics
from stream_processors.pipelines.metrics import MetricsPipeline, ModelHolder
from stream_processors.records import Record

T0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
# the shape in small (cycles x2, noise x2, half the devices near their limits, incidents from
# minute 0): the warm-up and trend paths of the baseline, through the worker and the evaluation alike
_VARIANT = Variation(cycle=2.0, latency_cycle=0.2, noise=2.0, near_limit=0.5)
WINDOW = 300.0


@pytest.fixture(scope="module")
def det(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    return ModelRegistry(tmp_path_factory.mktemp("models")).ensure_model(seed=42)


@pytest.fixture(scope="module")
def stream() -> LabelledStream:
    return incident_stream(seed=3, n_devices=6, minutes=900, per_type=1)


def _records(stream: LabelledStream) -> dict[int, list[Record]]:
    parts: dict[int, list[Record]] = {0: [], 1: []}
    for i in range(stream.t.size):
        dev = stream.device_ids[i]
        r = stream.rows[i]
        event = NetworkMetrics(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"lifecycle/{i}"),
            event_type="network_metrics",
            occurred_at=datetime.fromtimestamp(T0 + float(stream.t[i]), UTC),
            source="test",
            device_id=dev,
            packet_loss=float(r[0]),
            latency_ms=float(r[1]),
            bandwidth_utilization=float(min(r[2], 1.0)),
            connection_count=int(r[3]),
            error_rate=float(r[4]),
        )
        p = int(stream.device[i]) % 2
        parts[p].append(Record("network-metrics", p, len(parts[p]), dev.encode(), event.to_bytes()))
    return parts


def _pipeline(det: Detector, baselines: dict, incidents: dict) -> MetricsPipeline:
    return MetricsPipeline(
        "alerts",
        ModelHolder(det),  # drift is judged in tests/integration; its window counts live in memory
        baselines,
        incidents,
        WorkerMetrics(CollectorRegistry()),
        WINDOW,
        no_data_s=900.0,
    )


def _run(
    det: Detector, parts: dict[int, list[Record]], size: int, restart_at: int | None = None
) -> list[bytes]:
    baselines: dict[str, Any] = {}
    incidents: dict[str, Any] = {}
    pipe = _pipeline(det, baselines, incidents)
    out: list[bytes] = []
    cursors = dict.fromkeys(parts, 0)
    fed = 0
    while any(cursors[p] < len(parts[p]) for p in parts):
        for p, recs in parts.items():
            batch = recs[cursors[p] : cursors[p] + size]
            if not batch:
                continue
            cursors[p] += len(batch)
            result = pipe.process(batch)
            assert not result.dead_letters
            out.extend(o.value for o in result.outputs)
            fed += len(batch)
            if restart_at is not None and fed >= restart_at:
                restart_at = None
                baselines = json.loads(json.dumps(baselines))
                incidents = json.loads(json.dumps(incidents))
                pipe = _pipeline(det, baselines, incidents)
    return out


def _by_subject(records: list[bytes]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for raw in records:
        out.setdefault(Alert.model_validate_json(raw).subject, []).append(raw)
    return out


def _variant_stream() -> LabelledStream:
    return incident_stream(
        seed=4, n_devices=6, minutes=600, per_type=1, quiet_minutes=0, at_start=2, variation=_VARIANT
    )


@pytest.mark.parametrize("variant", [False, True], ids=["default", "issue-shape"])
def test_the_same_stream_gives_the_same_alert_records_whatever_the_batches(
    det: Detector, stream: LabelledStream, variant: bool
) -> None:
    if variant:
        stream = _variant_stream()
    parts = _records(stream)
    runs = {
        "1": _run(det, parts, 1),
        "7": _run(det, parts, 7),
        "1000": _run(det, parts, 1000),
        "7, restart": _run(det, parts, 7, restart_at=stream.t.size // 2),
    }
    alerts = [Alert.model_validate_json(r) for r in runs["1"]]
    statuses = {a.status for a in alerts}
    assert {"firing", "resolved"} <= statuses, statuses
    assert sum(a.status == "firing" for a in alerts) >= len(stream.incidents) // 2
    for name, records in runs.items():
        # per subject (the topic's key, so one partition's order) the very same bytes, in order
        assert _by_subject(records) == _by_subject(runs["1"]), name


@pytest.mark.parametrize("variant", [False, True], ids=["default", "issue-shape"])
def test_lifecycle_records_follow_the_shared_rule(
    det: Detector, stream: LabelledStream, variant: bool
) -> None:
    """The worker opens an incident exactly where the evaluation's rule (detector.episodes) does."""
    if variant:
        stream = _variant_stream()
    parts = _records(stream)
    alerts = [Alert.model_validate_json(r) for r in _run(det, parts, 1000)]
    events = [NetworkMetrics.model_validate_json(r.value or b"") for p in parts.values() for r in p]
    events.sort(key=lambda e: e.occurred_at)
    rows = np.array([e.features() for e in events])
    ids = [e.device_id for e in events]
    t = np.array([e.occurred_at.timestamp() for e in events])
    flags = det.score_arrays(rows, ids, {}).is_anomaly  # the evaluation's call: one batch, no lifecycle
    device = np.array([int(d.rsplit("-", 1)[1]) for d in ids])
    opened = raise_alerts(flags, device, t, WINDOW)
    expected = sorted((ids[i], round(float(t[i]), 3)) for i in np.flatnonzero(opened))
    fired = sorted((a.subject, round(a.started_at.timestamp(), 3)) for a in alerts if a.status == "firing")
    assert expected and fired == expected
    by_id: dict[str, list[Alert]] = {}
    for a in alerts:
        by_id.setdefault(a.alert_id, []).append(a)
    for aid, recs in by_id.items():
        assert recs[0].status == "firing", aid
        assert [r.status for r in recs[1:-1]] == ["updated"] * (len(recs) - 2) or recs[
            -1
        ].status != "resolved"
        assert len({r.fingerprint for r in recs}) == 1
        ranks = [("low", "medium", "high").index(r.severity) for r in recs if r.status != "resolved"]
        assert ranks == sorted(set(ranks)), "an update only when severity rises"
        if recs[-1].status == "resolved":
            end = recs[-1]
            assert end.ended_at == end.last_seen_at and end.count >= recs[0].count
            assert end.resolution in ("recovered", "no data")


def test_a_silent_device_is_resolved_by_the_sweep_with_no_data(det: Detector) -> None:
    baselines: dict[str, Any] = {}
    incidents: dict[str, Any] = {}
    pipe = _pipeline(det, baselines, incidents)
    rng = np.random.default_rng(0)
    recs = []
    for k in range(60):
        spike = k == 50
        event = NetworkMetrics(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"silent/{k}"),
            event_type="network_metrics",
            occurred_at=datetime.fromtimestamp(T0 + 60 * k, UTC),
            device_id="r-silent",
            packet_loss=0.001,
            latency_ms=float(20 + rng.normal() + (400 if spike else 0)),
            bandwidth_utilization=0.4,
            connection_count=100,
            error_rate=0.001,
        )
        recs.append(Record("network-metrics", 0, k, b"r-silent", event.to_bytes()))
    out = pipe.process(recs[:51])  # the spike is the last reading: then silence
    [firing] = [Alert.model_validate_json(o.value) for o in out.outputs]
    assert firing.status == "firing" and "r-silent" in incidents
    wall = pipe._marks[0][1]  # noqa: SLF001 - the test drives the sweep's clock
    assert pipe.sweep(now=wall + 60).outputs == []  # not silent long enough yet
    swept = pipe.sweep(now=wall + 901)
    [resolved] = [Alert.model_validate_json(o.value) for o in swept.outputs]
    assert resolved.status == "resolved" and resolved.resolution == "no data"
    assert resolved.alert_id == firing.alert_id and "r-silent" not in incidents
    # the device's next reading would have resolved it the same way
    pipe2 = _pipeline(det, {}, {})
    pipe2.process(recs[:51])
    late = NetworkMetrics.model_validate_json(recs[59].value).model_copy(
        update={"occurred_at": datetime.fromtimestamp(T0 + 60 * 50 + 901, UTC)}
    )
    [again] = [
        Alert.model_validate_json(o.value)
        for o in pipe2.process([Record("network-metrics", 0, 99, b"r-silent", late.to_bytes())]).outputs
    ]
    assert again == resolved


def test_idle_device_state_expires_as_deletes(det: Detector) -> None:
    baselines: dict[str, Any] = {}
    incidents: dict[str, Any] = {}
    pipe = MetricsPipeline(
        "alerts",
        ModelHolder(det),
        baselines,
        incidents,
        WorkerMetrics(CollectorRegistry()),
        WINDOW,
        state_ttl_s=3600,
    )
    event = NetworkMetrics(
        event_type="network_metrics",
        occurred_at=datetime.fromtimestamp(T0, UTC),
        device_id="r-idle",
        packet_loss=0.001,
        latency_ms=20.0,
        bandwidth_utilization=0.4,
        connection_count=100,
        error_rate=0.001,
    )
    pipe.process([Record("network-metrics", 0, 0, b"r-idle", event.to_bytes())])
    assert "r-idle" in baselines
    wall = pipe._marks[0][1]  # noqa: SLF001
    pipe.sweep(now=wall + 1800)
    assert "r-idle" in baselines
    pipe.sweep(now=wall + 3600)
    assert "r-idle" not in baselines


def _reading(device: str, k: int, minute: float, latency: float) -> NetworkMetrics:
    return NetworkMetrics(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{device}/{k}"),
        event_type="network_metrics",
        occurred_at=datetime.fromtimestamp(T0 + 60 * minute, UTC),
        device_id=device,
        packet_loss=0.001,
        latency_ms=latency,
        bandwidth_utilization=0.4,
        connection_count=100,
        error_rate=0.001,
    )


def test_a_lagging_partition_is_judged_by_its_own_clock(det: Detector) -> None:
    incidents: dict[str, Any] = {}
    pipe = _pipeline(det, {}, incidents)
    rng = np.random.default_rng(1)
    slow = [_reading("r-slow", k, k, 20 + rng.normal() + (500 if k == 50 else 0)) for k in range(51)]
    fast = [_reading("r-fast", k, k, 20 + rng.normal()) for k in range(400)]  # hours ahead
    pipe.process([Record("network-metrics", 0, k, b"r-slow", e.to_bytes()) for k, e in enumerate(slow)])
    pipe.process([Record("network-metrics", 1, k, b"r-fast", e.to_bytes()) for k, e in enumerate(fast)])
    assert incidents["r-slow"]["partition"] == 0
    wall = pipe._marks[0][1]  # noqa: SLF001 - the test drives the sweep's clock
    # partition 1 is 350 minutes past r-slow's last reading; partition 0's clock is not
    assert pipe.sweep(now=wall + 1).outputs == [] and "r-slow" in incidents


def test_drift_is_one_episode_per_partition_resolved_when_psi_falls_back(det: Detector) -> None:
    from detector import DriftMonitor

    holder = ModelHolder(det, DriftMonitor(det.drift_reference, window=200, threshold=0.25))
    pipe = MetricsPipeline("alerts", holder, {}, {}, WorkerMetrics(CollectorRegistry()), WINDOW)
    from detector import synthetic_normal_traffic

    rows, ids, t = synthetic_normal_traffic(n_devices=50, minutes=1440, seed=42)  # the training data
    records = []
    for k in range(1000):  # windows of 200: normal, three with utilisation pinned at 99 %, normal again
        r = rows[k]
        e = _reading(ids[k], k, float(t[k]) / 60, float(r[1])).model_copy(
            update={
                "packet_loss": float(r[0]),
                "bandwidth_utilization": 0.99 if 200 <= k < 800 else float(r[2]),
                "connection_count": int(r[3]),
                "error_rate": float(r[4]),
            }
        )
        records.append(Record("network-metrics", 0, k, e.device_id.encode(), e.to_bytes()))
    out = [Alert.model_validate_json(o.value) for o in pipe.process(records).outputs]
    drift = [a for a in out if a.alert_type == "model_drift"]
    assert [a.status for a in drift][0] == "firing" and drift[-1].status == "resolved", drift
    assert len({a.alert_id for a in drift}) == 1 and drift[0].labels["partition"] == "0"
    assert drift[-1].count == 3 and drift[-1].reasons[0].feature == "bandwidth_utilization"


def test_an_incident_opened_before_the_lifecycle_is_resolved_under_its_id(det: Detector) -> None:
    """State written by the previous version (``opened_at``, ``last_at``) is read, not dead-lettered."""
    incidents: dict[str, Any] = {
        "r-old": {"alert_id": "old-1", "opened_at": T0, "last_at": T0 + 60, "count": 2},
        "r-junk": "not a state",
    }
    pipe = _pipeline(det, {}, incidents)
    recs = [
        Record("network-metrics", 0, k, d.encode(), _reading(d, k, 10 + k, 20.0).to_bytes())
        for k, d in enumerate(["r-old", "r-junk"])
    ]
    result = pipe.process(recs)
    assert not result.dead_letters
    [resolved] = [Alert.model_validate_json(o.value) for o in result.outputs]
    assert resolved.alert_id == "old-1" and resolved.status == "resolved" and resolved.count == 2
    assert "r-old" not in incidents
