"""The Faust worker: agents for commands, code and metrics, built from settings.

Nothing here runs at import time: :func:`create_worker` builds the Faust app,
its topics, tables, agents, timers and web views from the settings it is
given.

>>> from foundation.settings import Settings
>>> w = create_worker(Settings(bootstrap_servers="127.0.0.1:9092"))  # doctest: +SKIP
>>> w.run()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
import numpy as np
from prometheus_client import CollectorRegistry

from detector import ModelFollower, ModelRegistry
from foundation.exceptions import ConfigurationError
from foundation.kafka_topics import topic_configs
from foundation.settings import Settings
from stream_processors.alerting import AlertContext
from stream_processors.checkpoint import Checkpoint
from stream_processors.code import CodeCheckPool, StrugglingTracker
from stream_processors.exceptions import is_retriable
from stream_processors.expiry import expire_idle, raw_partition
from stream_processors.insights import ExerciseWindows, LabWindows
from stream_processors.intake import Batch, BatchApp, BatchChannel, RawKeyTable, wait_for_changelogs
from stream_processors.metrics import WorkerMetrics, observe_many
from stream_processors.pipelines.code import CodePipeline
from stream_processors.pipelines.commands import CommandPipeline
from stream_processors.pipelines.insights import InsightsPipeline
from stream_processors.pipelines.lab import LabFactsPipeline, LabInsightsPipeline
from stream_processors.pipelines.metrics import MetricsPipeline, ModelHolder
from stream_processors.records import (
    BatchResult,
    Output,
    Record,
    TimeBounds,
    dead_letter_key,
    describe_exception,
    to_dead_letter,
)
from stream_processors.staging import StagedTable
from stream_processors.web import WEB_DRIVER, register_views

log = logging.getLogger(__name__)

Process = Callable[[list[Record]], "BatchResult | Awaitable[BatchResult]"]

_SEND_RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # back-off steps; the last one repeats until delivery_retry_s
_QUEUED_BATCHES = 4  # per agent: fetched batches waiting while one is processed


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` derived from LabStream settings.

    ``worker_web_port`` must be a port: Faust refuses 0, and which free port a worker gets is the
    composition root's choice (``labstream.runtime.create_worker``), not the worker's.
    """
    if not settings.bootstrap_list:
        raise ValueError("bootstrap servers are not set: start the embedded broker first")
    if not settings.worker_web_port:
        raise ConfigurationError(
            "worker_web_port is 0: `labstream worker` (labstream.runtime.create_worker) picks a free "
            "port for it; a worker built directly needs a real one"
        )
    return {
        "broker": [f"kafka://{b}" for b in settings.bootstrap_list],
        "store": "memory://",
        "key_serializer": "raw",
        "value_serializer": "raw",
        "topic_partitions": settings.partitions,
        # changelogs replicated like LabStream's topics (`labstream worker` resolves None to min(3, brokers))
        "topic_replication_factor": settings.replication_factor or 1,
        "topic_allow_declare": True,
        "consumer_auto_offset_reset": "earliest",
        # tansu waits the whole rebalance timeout before the first assignment: keep it short.
        "broker_rebalance_timeout": settings.rebalance_timeout_s,
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_s / 3),
        "producer_acks": -1,
        "web_host": settings.worker_web_host,
        "web": WEB_DRIVER,  # Faust's aiohttp server without its production index (stream_processors.web)
        "web_port": settings.worker_web_port,
        "web_bind": settings.worker_web_host,
        "web_router_enabled": False,
        "web_tables_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "web_metrics_enabled": False,
        "web_in_thread": False,
        # Faust's own files (per app id) under LabStream's data dir, not the current directory
        "datadir": str(settings.data_dir / "faust"),
        # tansu reports end offsets per record batch, so this check misfires there (Settings.broker_kind)
        "recovery_consistency_check": settings.broker_kind != "tansu",
    }


class Worker:
    """A LabStream worker: one Faust app with its three agents."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)  # Faust makes no parents
        self.app = BatchApp(settings.app_id, **faust_settings(settings))
        self.app.fetch_max_wait_ms = settings.fetch_max_wait_ms
        self.model_registry = ModelRegistry.from_settings(settings)  # signing key from settings
        self.model = ModelHolder(self._promoted_model())
        self.model_follower = ModelFollower(self.model_registry, self.model.detector.version)
        self._set_model_metrics()
        self.processed: dict[tuple[str, int], int] = {}
        self.processes: dict[str, Process] = {}  # by agent name, looked up per batch
        # outputs, then state (once the producer knows its changelogs), then offsets
        self.checkpoint = Checkpoint(self._deliver, before_state=self._known_changelogs)
        self.pool = CodeCheckPool(
            max_bytes=settings.code_max_bytes,
            timeout_s=settings.code_check_timeout_s,
            workers=settings.code_check_workers,
        )
        self._build()

    # --- construction -----------------------------------------------------
    def _promoted_model(self) -> Any:
        """The promoted model. With none, the worker refuses to start: whether to train a stand-in
        instead is the composition root's decision (``labstream.runtime.ensure_serving_model``)."""
        if self.model_registry.current_version() is None:
            raise ConfigurationError(
                f"no promoted anomaly model in {self.settings.model_dir}: a worker serves the promoted "
                "model, and `labstream worker` decides what happens without one"
            )
        return self.model_registry.load_current()

    def _table(self, name: str) -> Any:
        return self.app.tables.add(
            RawKeyTable(
                self.app,
                name=name,
                default=None,
                beacon=self.app.tables.beacon,
                partitions=self.settings.partitions,
                key_type=str,  # with RawKeyTable: raw changelog keys, read back as str
                schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
                use_partitioner=True,
                extra_topic_configs=topic_configs(self.settings.replication_factor or 1),
            )
        )

    @property
    def facts_topic(self) -> str:
        """The internal topic of exercise facts (code agent -> insights agent), keyed by exercise."""
        return self.settings.internal_topics[0]

    @property
    def lab_facts_topic(self) -> str:
        """The internal topic of lab facts (categorised commands -> lab insights), keyed by device type."""
        return self.settings.internal_topics[1]

    def _build(self) -> None:
        s, t, app = self.settings, self.settings.topics, self.app
        self.sessions = self._table("cli-sessions")
        self.students = self._table("struggling-students")
        self.baselines = self._table("device-baselines")
        self.incidents = self._table("device-incidents")
        self.exercises = self._table("exercise-windows")
        self.device_types = self._table("lab-windows")
        # pipelines write through staged views, applied once the batch's outputs are delivered
        tables = self.tables = {  # by role: the label values of the per-table metrics (metrics.TABLES)
            "sessions": self.sessions,
            "students": self.students,
            "baselines": self.baselines,
            "incidents": self.incidents,
            "exercises": self.exercises,
            "device_types": self.device_types,
        }
        staged = {name: StagedTable(table) for name, table in tables.items()}
        self.staged: dict[str, list[StagedTable]] = {
            "commands": [staged["sessions"]],
            "code": [staged["students"]],
            "metrics": [staged["baselines"], staged["incidents"]],
            "insights": [staged["exercises"]],
            "lab_insights": [staged["device_types"]],
        }
        bounds = TimeBounds(max_skew_s=s.max_clock_skew_s, horizon_s=s.event_horizon_s)
        self.command_pipeline = CommandPipeline(
            t.commands_categorized, staged["sessions"], self.metrics, bounds
        )
        self.code_pipeline = CodePipeline(
            t.code_checks,
            t.alerts,
            self.pool,
            StrugglingTracker(threshold=s.struggling_threshold),
            staged["students"],
            self.metrics,
            AlertContext.from_settings(s),
            bounds,
            facts_topic=self.facts_topic,
        )
        self.insights_pipeline = InsightsPipeline(
            t.exercise_insights, staged["exercises"], ExerciseWindows(), self.metrics
        )
        self.metrics_pipeline = MetricsPipeline(
            t.alerts,
            self.model,
            staged["baselines"],
            staged["incidents"],
            self.metrics,
            s.alert_window_s,
            context=AlertContext.from_settings(s),
            no_data_s=s.alert_no_data_s,
            state_ttl_s=s.device_state_ttl_s,
            bounds=bounds,
        )
        self._agent("commands", t.lab_events, self.command_pipeline.process, 1000)
        self._agent("code", t.student_events, self.code_pipeline.process, 200)
        self._agent("insights", self.facts_topic, self.insights_pipeline.process, 1000)
        self.lab_facts_pipeline = LabFactsPipeline(self.lab_facts_topic)
        self.lab_insights_pipeline = LabInsightsPipeline(t.lab_insights, staged["device_types"], LabWindows())
        self._agent("lab_facts", t.commands_categorized, self.lab_facts_pipeline.process, 1000)
        self._agent("lab_insights", self.lab_facts_topic, self.lab_insights_pipeline.process, 1000)
        self._agent("metrics", t.network_metrics, self.metrics_pipeline.process, s.batch_size)
        for topic in [*t.outputs(), self.facts_topic, self.lab_facts_topic]:
            app.topic(topic, partitions=s.partitions)  # declared so they exist before the first send
        app.timer(s.model_poll_s)(self._poll_model)
        app.timer(5.0)(self._update_lag)
        app.timer(s.incident_sweep_s)(self.sweep_incidents)
        app.timer(s.state_sweep_s)(self._expire_idle_state)
        register_views(
            self.app,
            registry=self.registry,
            get_detector=lambda: self.model.detector,
            max_listed_errors=self.settings.api_max_listed_errors,
        )

    def _agent(self, name: str, topic_name: str, process: Process, batch: int) -> None:
        """One agent per input topic, fed whole fetched batches (see :mod:`stream_processors.intake`).

        A batch is what one fetch returned for a partition (at most ``batch`` records), so the agent
        never waits for a batch to fill.
        """
        app = self.app
        topic = app.topic(topic_name, partitions=self.settings.partitions)
        app.topics.add(topic)  # subscribed and acked like an agent's topic; records arrive as batches
        channel = BatchChannel(app, maxsize=_QUEUED_BATCHES)  # not emptied by a rebalance
        app.route_batches(topic_name, channel, batch)
        self.processes[name] = process
        worker = self

        async def agent(stream: Any) -> None:
            async for b in stream:
                await worker.handle_batch(name, b)

        agent.__name__ = f"{name}_agent"
        agent.__qualname__ = agent.__name__
        app.agent(channel, name=f"labstream.{name}")(agent)

    # --- the per-batch path -------------------------------------------------
    async def handle_batch(self, name: str, batch: Batch) -> None:
        """Process one fetched batch; :class:`Checkpoint` acks it only once its outputs are delivered.

        A batch fetched before a rebalance is processed too (see ``Batch.begin``). If delivery
        fails for good the worker crashes rather than
        leave the batch unacked forever; the records are then re-read by whoever owns them next.
        """
        batch.begin()
        try:
            async with self._lock(name):  # the sweep timer writes the same staged tables
                await self.handle(name, batch.messages, self.processes[name], offsets=batch)
        except Exception as e:
            log.exception("agent %s: a batch of %d was not delivered; stopping", name, len(batch.messages))
            await self.app.crash(e)
            raise

    async def handle(
        self, name: str, messages: list[Any], process: Process, offsets: Batch | None = None
    ) -> None:
        """Process one batch of Faust messages; return only when it is committed (outputs, state,
        then ``offsets``, by :class:`Checkpoint`)."""
        records = [
            Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp or 0.0) for m in messages
        ]
        staged = self.staged.get(name, [])
        result = await self._process_safely(process, records, staged)
        await self.checkpoint.commit(result, staged, offsets)
        now = time.time()
        stamps = np.fromiter((r.timestamp for r in records), dtype=np.float64, count=len(records))
        # no timestamp (0): observed as 0, as before
        observe_many(
            self.metrics.processing_seconds.labels(agent=name),
            np.where(stamps != 0.0, np.maximum(0.0, now - stamps), 0.0),
        )
        first, last = records[0], records[-1]
        if first.topic == last.topic and first.partition == last.partition:  # a fetched batch: one partition
            self.processed[(last.topic, last.partition)] = last.offset
        else:
            for r in records:
                self.processed[(r.topic, r.partition)] = r.offset
        self.metrics.events_in.labels(topic=records[0].topic).inc(len(records))

    async def _process_safely(
        self, process: Process, records: list[Record], staged: Sequence[StagedTable] = ()
    ) -> BatchResult:
        """Run a pipeline on a batch; if the batch fails, run each record alone so one bad
        event is dead-lettered and the rest still get processed.

        A failure that says it is transient (``retriable``, see
        :func:`~stream_processors.exceptions.is_retriable`) is never dead-lettered: the whole batch is
        tried again with back-off (its staged writes discarded first), and after ``delivery_retry_s``
        the worker stops with the batch unacked, so it is read again. A permanent one dead-letters its
        record at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.delivery_retry_s
        attempt = 0
        while True:
            try:
                return await self._process_once(process, records, staged)
            except Exception as e:
                if not is_retriable(e) or loop.time() >= deadline:
                    raise
                for table in staged:  # the failed attempt's writes must not leak into the retry
                    table.discard()
                delay = _SEND_RETRY_S[min(attempt, len(_SEND_RETRY_S) - 1)]
                log.warning(
                    "processing %d records: transient %s, retrying in %.1f s",
                    len(records),
                    type(e).__name__,
                    delay,
                )
                self.metrics.retries.labels(stage="process").inc()
                attempt += 1
                await asyncio.sleep(delay)

    async def _process_once(
        self, process: Process, records: list[Record], staged: Sequence[StagedTable]
    ) -> BatchResult:
        """The batch at once, else record by record; a transient failure is raised (retried above)."""
        try:
            return await _call(process, records)
        except Exception as e:  # noqa: BLE001 - fall back to one record at a time
            if is_retriable(e):
                raise
            log.warning("batch of %d failed; retrying one record at a time", len(records), exc_info=True)
        for table in staged:  # the failed attempt's writes must not leak into the retry
            table.discard()
        merged = BatchResult()
        for record in records:
            try:
                one = await _call(process, [record])
            except Exception as e:  # noqa: BLE001 - the dead letter carries the reason
                if is_retriable(e):
                    raise
                merged.dead(record, "process", describe_exception(e), type(e).__name__)
                continue
            merged.outputs.extend(one.outputs)
            merged.dead_letters.extend(one.dead_letters)
        return merged

    async def _deliver(self, result: BatchResult) -> None:
        """Send a batch's outputs and dead letters; return once Kafka has every one.

        Transient failures (timeouts, a broker or an output topic away, a full buffer) are retried
        with back-off for ``delivery_retry_s``, then the worker stops with the batch unacked (it is
        read again: never a dead letter for a broker's hiccup). An output Kafka refuses for good
        (e.g. too large) dead-letters the record it came from, when it names one (``source``).
        """
        dlq = self.settings.topics.dead_letters
        pending = list(result.outputs)
        for d in result.dead_letters:
            pending.append(self._dead_output(d.record, d.stage, d.error, d.reason))
        delivered: list[Output] = []
        refused: set[int] = set()  # inputs already dead-lettered for an output Kafka refused
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.delivery_retry_s
        attempt = 0
        while pending:
            failures = await self._send_each(pending)
            failed = {id(o) for o, _ in failures}
            delivered += [o for o in pending if id(o) not in failed]
            pending = []
            transient: Exception | None = None
            for o, e in failures:
                if is_retriable(e):
                    pending.append(o)
                    transient = e
                elif o.source is not None and o.topic != dlq:
                    if id(o.source) in refused:
                        continue  # another output of the same input: one dead letter is enough
                    refused.add(id(o.source))
                    log.error(
                        "an output to %s was refused for good (%s): dead-lettering its input",
                        o.topic,
                        type(e).__name__,
                    )  # noqa: TRY400
                    pending.append(
                        self._dead_output(
                            o.source,
                            "process",
                            f"output not deliverable: {describe_exception(e)}",
                            type(e).__name__,
                        )
                    )
                else:
                    raise e
            if transient is not None:
                if loop.time() >= deadline:
                    raise transient
                delay = _SEND_RETRY_S[min(attempt, len(_SEND_RETRY_S) - 1)]
                log.warning(
                    "sending %d outputs failed (attempt %d): %s",
                    len(pending),
                    attempt + 1,
                    describe_exception(transient),
                )
                self.metrics.retries.labels(stage="deliver").inc()
                attempt += 1
                await asyncio.sleep(delay)
        counts: dict[str, int] = {}
        for o in delivered:
            counts[o.topic] = counts.get(o.topic, 0) + 1
        for topic, n in counts.items():
            self.metrics.events_out.labels(topic=topic).inc(n)

    def _dead_output(self, record: Record, stage: Any, error: str, reason: str) -> Output:
        """A record's dead letter as an output; its Kafka key bounded like its value."""
        self.metrics.dead_letters.labels(topic=record.topic, stage=stage, reason=reason).inc()
        return Output(
            self.settings.topics.dead_letters,
            dead_letter_key(record),
            to_dead_letter(record, stage, error).to_bytes(),
        )

    async def _send_each(self, outputs: list[Output]) -> list[tuple[Output, Exception]]:
        """Send every output and wait for Kafka's answers; the ones that failed, each with its error."""
        producer = self.app.producer
        failures: list[tuple[Output, Exception]] = []
        sent: list[tuple[Output, Any]] = []
        for o in outputs:
            try:
                sent.append((o, await producer.send(o.topic, o.key_bytes(), o.value, None, None, None)))
            except Exception as e:  # noqa: BLE001 - judged by the caller: retried or dead-lettered
                failures.append((o, e))
        if sent:
            results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
            for (o, _), r in zip(sent, results, strict=True):
                if isinstance(r, Exception):
                    failures.append((o, r))
                elif isinstance(r, BaseException):
                    raise r
        return failures

    async def _known_changelogs(self, staged: Sequence[StagedTable]) -> None:
        """Before a batch's table writes: the producer's metadata must know their changelog topics
        (:func:`stream_processors.intake.wait_for_changelogs`)."""
        await wait_for_changelogs(self.app, [t.table for t in staged])

    # --- timers -------------------------------------------------------------
    def _lock(self, name: str) -> asyncio.Lock:
        locks: dict[str, asyncio.Lock] = self.__dict__.setdefault("_locks", {})
        return locks.setdefault(name, asyncio.Lock())

    async def sweep_incidents(self) -> None:
        """Resolve silent devices' incidents, expire idle devices' state; outputs, then state."""
        async with self._lock("metrics"):
            result = self.metrics_pipeline.sweep()
            await self.checkpoint.commit(result, self.staged["metrics"])
        self.update_table_sizes()

    def update_table_sizes(self) -> None:
        """Set ``labstream_table_keys`` per table: ``len`` of each in-memory table, O(1) (no scan)."""
        for name, table in self.tables.items():
            self.metrics.table_keys.labels(table=name).set(len(table))

    async def _poll_model(self) -> None:
        detector = await asyncio.get_running_loop().run_in_executor(None, self.model_follower.poll)
        if detector is None:  # nothing newly promoted, or refused (the follower logged it once)
            return
        self.model.detector = detector
        self.model.drift = self._drift_for(detector)
        self._set_model_metrics()
        log.info("switched to model %s", detector.version)

    def _drift_for(self, detector: Any) -> Any:
        from detector import DriftMonitor

        return DriftMonitor(
            detector.state["reference"],
            window=self.settings.drift_window,
            threshold=self.settings.drift_psi_threshold,
        )

    def _set_model_metrics(self) -> None:
        d = self.model.detector
        if self.model.drift is None:
            self.model.drift = self._drift_for(d)
        self.metrics.model_info.info({"version": d.version})
        self.metrics.model_version_loaded.set(1)

    async def _expire_idle_state(self) -> None:
        """Delete CLI sessions and failure streaks idle for ``state_idle_s`` (tombstones in the changelog)."""
        self.expire_idle_state(time.time())

    def expire_idle_state(self, now: float) -> dict[str, int]:
        """Delete idle keys of the tables whose changelog partition this worker actively owns, then
        set the table-size gauges."""
        expired: dict[str, int] = {}
        try:
            actives = self.app.assignor.assigned_actives()
        except Exception:  # noqa: BLE001 - not assigned yet (starting, rebalancing): nothing is ours
            actives = set()
        if actives:
            for name, table in (("sessions", self.sessions), ("students", self.students)):
                n = expire_idle(
                    table, now=now, idle_s=self.settings.state_idle_s, owned=self._owned(table, actives)
                )
                if n:
                    self.metrics.expired_keys.labels(table=name).inc(n)
                    expired[name] = n
        self.update_table_sizes()
        return expired

    def _owned(self, table: Any, actives: Any) -> Callable[[str], bool]:
        """Whether a key's changelog record goes to a partition this worker owns (not a standby copy).

        The changelog key is the table's serialised key (JSON for ``str`` keys), partitioned by the
        producer's murmur2 partitioner.
        """
        changelog = table.changelog_topic.get_topic_name()
        mine = {tp.partition for tp in actives if tp.topic == changelog}
        dumps, typ, codec = self.app.serializers.dumps_key, table.key_type, table.key_serializer
        n = self.settings.partitions
        return lambda key: raw_partition(dumps(typ, key, serializer=codec) or b"", n) in mine

    async def _update_lag(self) -> None:
        consumer = self.app.consumer
        assigned = consumer.assignment()
        self.metrics.assigned_partitions.set(len(assigned))
        for tp in assigned:
            hw = consumer.highwater(tp)
            if hw is None:
                continue
            done = self.processed.get((tp.topic, tp.partition))
            lag = hw - (done + 1) if done is not None else hw
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, lag))

    # --- running ------------------------------------------------------------
    def run(self, loglevel: str = "warning") -> None:
        """Run until SIGINT/SIGTERM (blocks)."""
        from faust.worker import Worker as FaustWorker

        # Faust warns each time its changelog send buffer passes a fixed 100 messages, then flushes it:
        # back-pressure working as designed, not something for the on-call log.
        logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)
        _freeze_heap()
        self.app.task(_freeze_started_heap)
        try:
            FaustWorker(self.app, loglevel=loglevel, quiet=True).execute_from_commandline()
        finally:
            asyncio.run(self.pool.close())


def _freeze_heap() -> None:
    """Move every object alive now out of the cyclic GC's reach (``gc.freeze``).

    A worker holds about a million long-lived objects (modules, Faust, pydantic, scikit-learn) and
    allocates tens of thousands per batch; every full collection walked them all. Profiled
    (py-spy, in-process batches of 4,000 metric events): about half the pipeline's time was the
    collector. Frozen objects are still freed by reference counting; cycles created later are
    still collected.
    """
    gc.collect()
    gc.freeze()


async def _freeze_started_heap() -> None:
    """Once the app runs: freeze what starting it created too (consumer, producer, tables)."""
    _freeze_heap()


async def _call(process: Process, records: list[Record]) -> BatchResult:
    out = process(records)
    if isinstance(out, BatchResult):
        return out
    return await out


def create_worker(settings: Settings, registry: CollectorRegistry | None = None) -> Worker:
    return Worker(settings, registry)
