"""What every chaos scenario shares: an environment, raw publishing, and the account of every event.

The account follows each published record to one fate, by its Kafka coordinates:

- **dead-lettered**: a dead letter names its ``(original_topic, partition, offset)``;
- **processed**: ``student-events`` and ``lab-events`` records yield one output each
  (``code-checks``, ``commands-categorized``) carrying the input's ``event_id``;
  ``network-metrics`` records yield no per-event output (only alerts), so one counts as
  processed when the worker's consumer group committed past its offset, which the
  worker does only after the batch's outputs were delivered (the same holds for an
  input whose ``event_id`` we cannot know: bad-input cases without a valid one);
- **lost**: neither. Must be 0.

Alerts: ``redelivered`` counts alert records already on the topic: same ``alert_id``, ``status``
and ``count`` (the same lifecycle record sent again after a crash: harmless for consumers that
dedupe by id and status; an incident's firing, updated and resolved records are not redeliveries);
``duplicates`` counts *different* alert ids raised for one incident (must be 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.settings import Settings, Topics
from labstream.broker import ensure_topics, replication_factor_for
from labstream.kafka_cluster import KafkaCluster
from schemas import DeadLetter
from tests.fixtures.proxy import Proxy
from tests.fixtures.worker import WorkerProcess

MAX_RECORD = 16 * 1024 * 1024


@dataclass
class Account:
    """One row of the chaos table."""

    scenario: str
    events_in: int = 0
    processed: int = 0
    dead_lettered: int = 0
    lost: int = 0
    alerts: int = 0
    redelivered_alerts: int = 0
    duplicate_alerts: int = 0
    rss_mb: tuple[float, float] | None = None
    lag: tuple[int, int] | None = None
    failures: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicate_alerts == 0 and not self.failures

    def check(self, condition: bool, failure: str) -> bool:
        if not condition:
            self.failures.append(failure)
        return condition


@dataclass(frozen=True, slots=True)
class Sent:
    """One record we published, where it landed, and its event id when it has one."""

    topic: str
    partition: int
    offset: int
    event_id: str | None = None


class Env:
    """A broker, a scratch directory, and the processes a scenario starts (all stopped at exit).

    ``cluster`` is the Apache Kafka cluster behind ``bootstrap`` when the scenario may stop or
    kill its nodes (the Kafka fault scenarios); ``broker_kind`` is what ``bootstrap`` runs;
    ``proxy`` is a TCP proxy in front of that Kafka's proxied listener (``tests/fixtures/proxy.py``)
    for the scenarios that take Kafka away from its clients.
    """

    def __init__(
        self,
        bootstrap: str,
        root: Path,
        *,
        quick: bool,
        broker_kind: str = "kafka",
        cluster: KafkaCluster | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        self.bootstrap, self.root, self.quick = bootstrap, root, quick
        self.broker_kind, self.cluster, self.proxy = broker_kind, cluster, proxy
        root.mkdir(parents=True, exist_ok=True)
        self.model_dir = root / "models"  # shared: the default model is trained once per run
        self._stops: list[Callable[[], Any]] = []

    def settings(self, bootstrap: str | None = None, **overrides: Any) -> Settings:
        """Settings with this scenario's own topics, app id and data dir; topics created."""
        tag = uuid.uuid4().hex[:10]
        kind = self.broker_kind  # another bootstrap than the env's: the same Kafka through env.proxy
        bootstrap = bootstrap or self.bootstrap
        s = Settings(
            bootstrap_servers=bootstrap,
            app_id=f"chaos-{tag}",
            broker_kind=kind,  # type: ignore[arg-type]  # tansu: see Settings.broker_kind
            replication_factor=replication_factor_for(bootstrap) if kind == "kafka" else 1,
            pseudonym_key="chaos-pseudonym-key-" + tag,  # type: ignore[arg-type]
            data_dir=self.root / f"data-{tag}",
            model_dir=self.model_dir,
            worker_web_port=0,
            partitions=2,
        ).with_topics(Topics.with_prefix(f"c{tag}-"))
        s = s.model_copy(update=overrides)
        ensure_topics(bootstrap, s.topics.all(), s.partitions, s.replication_factor)
        return s

    def worker(self, settings: Settings, name: str = "worker") -> WorkerProcess:
        w = WorkerProcess(settings, self.root / f"{name}-{uuid.uuid4().hex[:6]}.log").start()
        self.on_close(lambda: w.stop(kill=True))
        return w

    def on_close(self, fn: Callable[[], Any]) -> None:
        self._stops.append(fn)

    def close(self) -> None:
        for fn in reversed(self._stops):
            with contextlib.suppress(Exception):
                fn()
        self._stops.clear()


@contextlib.contextmanager
def environment(
    bootstrap: str,
    root: Path,
    *,
    quick: bool,
    broker_kind: str = "kafka",
    cluster: KafkaCluster | None = None,
    proxy: Proxy | None = None,
) -> Iterator[Env]:
    env = Env(bootstrap, root, quick=quick, broker_kind=broker_kind, cluster=cluster, proxy=proxy)
    try:
        yield env
    finally:
        env.close()


def publish_raw(
    bootstrap: str,
    items: Iterable[tuple[str, bytes | None, bytes | None, str | None]],
    *,
    over_s: float = 0.0,
    flush_s: float = 120.0,
    **producer_options: Any,
) -> list[Sent]:
    """Publish ``(topic, key, value, event_id)`` records as they are (kafka-python, acks=all),
    spread evenly over ``over_s`` seconds (0: as fast as possible); ``producer_options`` replace
    or add to the producer's settings (5 retries, 5 ms linger, 16 MiB requests)."""
    from kafka import KafkaProducer

    items = list(items)
    options: dict[str, Any] = {"max_request_size": MAX_RECORD, "linger_ms": 5, "retries": 5}
    producer = KafkaProducer(bootstrap_servers=bootstrap, **{**options, **producer_options, "acks": "all"})
    try:
        pending = []
        step = max(1, len(items) // 50)
        started = time.monotonic()
        for i, (t, k, v, eid) in enumerate(items):
            if over_s and i % step == 0:
                time.sleep(max(0.0, started + over_s * i / len(items) - time.monotonic()))
            pending.append((producer.send(t, key=k, value=v), eid))
        producer.flush(flush_s)
        out = []
        for fut, eid in pending:
            md = fut.get(timeout=60)
            out.append(Sent(md.topic, md.partition, md.offset, eid))
        return out
    finally:
        producer.close(10)


def event_id_of(value: bytes | None) -> str | None:
    """The canonical event id a worker would output for this value, if it has a valid one."""
    try:
        return str(uuid.UUID(json.loads(value)["event_id"])) if value else None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


async def committed_offsets(settings: Settings, group: str | None = None) -> dict[tuple[str, int], int]:
    """The worker group's committed offsets on the input topics (the next offset it will read).

    aiokafka, without joining the group: kafka-python's admin OffsetFetch does not decode on tansu.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group or settings.app_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out = {}
        for topic in settings.topics.inputs():
            for p in range(settings.partitions):
                offset = await consumer.committed(TopicPartition(topic, p))
                if offset is not None and offset >= 0:
                    out[(topic, p)] = offset
        return out
    finally:
        await consumer.stop()


class Observer:
    """Reads the output topics as they grow and keeps what the account needs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        t = settings.topics
        self.per_event_outputs = {t.code_checks, t.commands_categorized}
        self.output_ids: set[str] = set()
        self.modes: dict[str, set[str]] = defaultdict(set)  # commands-categorized: event_id -> modes
        self.dead: set[tuple[str, int, int]] = set()
        self.dead_letters: list[DeadLetter] = []
        self.alerts: list[dict[str, Any]] = []
        self.raw: list[tuple[str, bytes | None, bytes | None]] = []  # every output record (privacy scan)
        self.order: list[str] = []  # event ids of per-event outputs as read (per-key order checks)
        self.keep_raw = False
        self._consumer: Any = None

    async def __aenter__(self) -> Observer:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            *self.settings.topics.outputs(),
            bootstrap_servers=self.settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=MAX_RECORD,
            fetch_max_bytes=4 * MAX_RECORD,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def pump(self, seconds: float = 0.5) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        t = self.settings.topics
        while loop.time() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, msgs in batches.items():
                for m in msgs:
                    if self.keep_raw:
                        self.raw.append((tp.topic, m.key, m.value))
                    if tp.topic == t.dead_letters:
                        d = DeadLetter.model_validate_json(m.value)
                        self.dead_letters.append(d)
                        self.dead.add((d.original_topic, d.partition, d.offset))
                    elif tp.topic == t.alerts:
                        self.alerts.append(json.loads(m.value))
                    elif tp.topic in self.per_event_outputs:  # insights topics carry aggregates, no event id
                        doc = json.loads(m.value)
                        eid = doc["event_id"]
                        self.output_ids.add(eid)
                        self.order.append(eid)
                        if tp.topic == t.commands_categorized:
                            self.modes[eid].add(doc["mode"])
            if not batches:
                return


def fates(
    sent: list[Sent], obs: Observer, committed: dict[tuple[str, int], int]
) -> tuple[list[Sent], list[Sent], list[Sent]]:
    """Split ``sent`` into (processed, dead-lettered, unaccounted)."""
    t = obs.settings.topics
    per_event = {t.student_events, t.lab_events}
    processed, dead, missing = [], [], []
    for s in sent:
        if (s.topic, s.partition, s.offset) in obs.dead:
            dead.append(s)
        elif s.topic in per_event and s.event_id is not None:
            (processed if s.event_id in obs.output_ids else missing).append(s)
        elif s.offset < committed.get((s.topic, s.partition), 0):
            processed.append(s)
        else:
            missing.append(s)
    return processed, dead, missing


async def settle(
    acc: Account,
    obs: Observer,
    sent: list[Sent],
    *,
    wait_s: float,
    incidents: dict[str, str] | None = None,
    group: str | None = None,
) -> Account:
    """Wait until every sent record has a fate (or ``timeout``), then fill in the account."""
    deadline = time.monotonic() + wait_s
    while True:
        await obs.pump(1.0)
        committed = await committed_offsets(obs.settings, group)
        processed, dead, missing = fates(sent, obs, committed)
        if not missing or time.monotonic() > deadline:
            break
    await obs.pump(2.0)  # alerts still in flight
    acc.events_in += len(sent)
    acc.processed += len(processed)
    acc.dead_lettered += len(dead)
    acc.lost += len(missing)
    count_alerts(acc, obs.alerts, incidents or {})
    if missing:
        by_topic = Counter(s.topic.split("-", 1)[1] for s in missing)
        acc.failures.append(f"unaccounted: {dict(by_topic)}")
    return acc


ACCOUNTED_ALERT_TYPES = ("network_anomaly", "struggling_student")


def count_alerts(acc: Account, alerts: list[dict[str, Any]], incidents: dict[str, str]) -> None:
    """Raw redeliveries (same alert_id again) and true duplicates (>1 alert_id per incident).

    ``incidents`` maps an event id to the incident the scenario injected it in; an alert
    belongs to the incident of its first event that has one, else it is its own incident.

    When the scenario injected incidents, each one of them (its id: the values of ``incidents``)
    must have exactly one alert id, and every ``network_anomaly`` or ``struggling_student`` alert
    must belong to an injected incident: a missed incident and an unexplained alert are failures
    (``alerts >= incidents`` let one hide the other).
    """
    records = Counter((a["alert_id"], a.get("status", "firing"), a.get("count")) for a in alerts)
    acc.alerts += len({a["alert_id"] for a in alerts})
    acc.redelivered_alerts += sum(n - 1 for n in records.values())
    per_incident: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for a in alerts:
        incident = next((incidents[e] for e in a.get("event_ids", []) if e in incidents), a["alert_id"])
        per_incident[(a["alert_type"], a["subject"], incident)].add(a["alert_id"])
    acc.duplicate_alerts += sum(len(v) - 1 for v in per_incident.values())
    if not incidents:
        return
    by_incident: dict[str, set[str]] = defaultdict(set)
    unexplained: set[str] = set()
    for a in alerts:
        if a["alert_type"] not in ACCOUNTED_ALERT_TYPES:
            continue  # e.g. model_drift: not an injected incident
        incident = next((incidents[e] for e in a.get("event_ids", []) if e in incidents), None)
        if incident is None:
            unexplained.add(a["alert_id"])
        else:
            by_incident[incident].add(a["alert_id"])
    missed = sorted(set(incidents.values()) - set(by_incident))
    acc.check(not missed, f"{len(missed)} injected incidents without an alert: {missed[:5]}")
    several = {i: len(v) for i, v in by_incident.items() if len(v) != 1}
    acc.check(not several, f"incidents with more than one alert id: {dict(list(several.items())[:5])}")
    acc.check(not unexplained, f"{len(unexplained)} alerts that explain no injected incident")


def check_modes(
    acc: Account, obs: Observer, records: list[tuple[str, bytes | None, bytes | None, str | None]]
) -> int:
    """Every command's answer on ``commands-categorized`` (each copy, redeliveries included) is in the
    mode a run without faults gives it: the commands pipeline in-process, each session in order.

    Returns how many commands were compared.
    """
    from prometheus_client import CollectorRegistry

    from stream_processors.metrics import WorkerMetrics
    from stream_processors.pipelines.commands import CommandPipeline
    from stream_processors.records import Record

    topic = obs.settings.topics.lab_events
    clean = CommandPipeline("clean", {}, WorkerMetrics(CollectorRegistry()))
    want: dict[str, str] = {}
    for i, (t, key, value, _eid) in enumerate(records):
        if t == topic:
            for o in clean.process([Record(t, 0, i, key, value)]).outputs:
                doc = json.loads(o.value)
                want[doc["event_id"]] = doc["mode"]
    wrong = sorted(e for e, mode in want.items() if obs.modes.get(e) != {mode})
    acc.check(
        not wrong,
        f"{len(wrong)} of {len(want)} commands answered in another mode than without faults: "
        + ", ".join(f"{sorted(obs.modes.get(e, set()))} for {want[e]}" for e in wrong[:5]),
    )
    return len(want)


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


class ApiProcess:
    """``labstream api`` as a subprocess on a free port, with these settings and tokens."""

    def __init__(self, env: Env, settings: Settings, tokens: list[str], **overrides: str) -> None:
        import subprocess
        import sys

        from labstream.broker import free_port
        from tests.fixtures.kafka import worker_env

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = env.root / f"api-{uuid.uuid4().hex[:6]}.log"
        e = worker_env(settings)
        e |= {
            "LABSTREAM_API_TOKENS": ",".join(tokens),
            "LABSTREAM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()
            if settings.pseudonym_key
            else "",
            "LABSTREAM_SPOOL_DIR": str(settings.resolved_spool_dir),
        }
        e |= {f"LABSTREAM_{k.upper()}": v for k, v in overrides.items()}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "labstream.cli", "api", "--port", str(self.port)],
                env=e,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        env.on_close(self.stop)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"labstream api exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"labstream api not up within {timeout}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:  # noqa: BLE001 - then it is killed
                self.proc.kill()
                self.proc.wait(5)


async def end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """The high watermark (next offset to be written) of each partition of ``topics``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(settings.partitions)]
        got = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): off for tp, off in got.items()}
    finally:
        await consumer.stop()
