"""The Faust worker: agents for commands, code and metrics, built from settings.

Nothing here runs at import time: :func:`create_worker` builds the Faust app,
its topics, tables, agents, timers and web views from the settings it is
given.

>>> from labstream.settings import Settings
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

from detector import DetectorError, ModelRegistry
from labstream.broker import free_port, topic_configs
from labstream.settings import Settings
from stream_processors.batching import Batch, BatchApp, BatchChannel
from stream_processors.code import CodeCheckPool, StrugglingTracker
from stream_processors.metrics import WorkerMetrics, observe_many
from stream_processors.pipelines.code import CodePipeline
from stream_processors.pipelines.commands import CommandPipeline
from stream_processors.pipelines.metrics import MetricsPipeline, ModelHolder
from stream_processors.records import BatchResult, Output, Record, describe_exception, to_dead_letter
from stream_processors.staging import StagedTable

log = logging.getLogger(__name__)

Process = Callable[[list[Record]], "BatchResult | Awaitable[BatchResult]"]

_SEND_RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)
_QUEUED_BATCHES = 4  # per agent: fetched batches waiting while one is processed


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` derived from LabStream settings."""
    if not settings.bootstrap_list:
        raise ValueError("bootstrap servers are not set: start the embedded broker first")
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
        "web_port": settings.worker_web_port or free_port(settings.worker_web_host),  # 0: any free port
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

    _refused_version: str | None = None  # the last promoted version that failed its checks

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)  # Faust makes no parents
        self.app = BatchApp(settings.app_id, **faust_settings(settings))
        self.app.fetch_max_wait_ms = settings.fetch_max_wait_ms
        self.model_registry = ModelRegistry(
            settings.model_dir,
            target_false_alert_rate=settings.target_false_alert_rate,
            alert_window_s=settings.alert_window_s,
        )
        self.model = ModelHolder(self.model_registry.ensure_model(seed=42))
        self._set_model_metrics()
        self.processed: dict[tuple[str, int], int] = {}
        self.processes: dict[str, Process] = {}  # by agent name, looked up per batch
        self.pool = CodeCheckPool(
            max_bytes=settings.code_max_bytes,
            timeout_s=settings.code_check_timeout_s,
            workers=settings.code_check_workers,
        )
        self._build()

    # --- construction -----------------------------------------------------
    def _table(self, name: str) -> Any:
        return self.app.Table(
            name,
            default=None,
            partitions=self.settings.partitions,
            schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
            use_partitioner=True,
            extra_topic_configs=topic_configs(self.settings.replication_factor or 1),
        )

    def _build(self) -> None:
        s, t, app = self.settings, self.settings.topics, self.app
        self.sessions = self._table("cli-sessions")
        self.students = self._table("struggling-students")
        self.baselines = self._table("device-baselines")
        self.incidents = self._table("device-incidents")
        # pipelines write through staged views, applied once the batch's outputs are delivered
        tables = {
            "sessions": self.sessions,
            "students": self.students,
            "baselines": self.baselines,
            "incidents": self.incidents,
        }
        staged = {name: StagedTable(table) for name, table in tables.items()}
        self.staged: dict[str, list[StagedTable]] = {
            "commands": [staged["sessions"]],
            "code": [staged["students"]],
            "metrics": [staged["baselines"], staged["incidents"]],
        }
        self.command_pipeline = CommandPipeline(t.commands_categorized, staged["sessions"], self.metrics)
        self.code_pipeline = CodePipeline(
            t.code_checks,
            t.alerts,
            self.pool,
            StrugglingTracker(threshold=s.struggling_threshold),
            staged["students"],
            self.metrics,
        )
        self.metrics_pipeline = MetricsPipeline(
            t.alerts, self.model, staged["baselines"], staged["incidents"], self.metrics, s.alert_window_s
        )
        self._agent("commands", t.lab_events, self.command_pipeline.process, 1000, 0.05)
        self._agent("code", t.student_events, self.code_pipeline.process, 200, 0.05)
        self._agent(
            "metrics", t.network_metrics, self.metrics_pipeline.process, s.batch_size, s.batch_timeout_s
        )
        for topic in t.outputs():
            app.topic(topic, partitions=s.partitions)  # declared so they exist before the first send
        app.timer(s.model_poll_s)(self._poll_model)
        app.timer(5.0)(self._update_lag)
        from stream_processors.web import register_views

        register_views(self)

    def _agent(self, name: str, topic_name: str, process: Process, batch: int, within: float) -> None:
        """One agent per input topic, fed whole fetched batches (see :mod:`stream_processors.batching`).

        ``within`` is unused: a batch is what one fetch returned for a partition (at most ``batch``
        records), so the agent never waits for a batch to fill.
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
        """Process one fetched batch and ack it only once its outputs are delivered.

        A batch fetched before a rebalance is processed too (see ``Batch.begin``). If delivery
        fails for good the worker crashes rather than
        leave the batch unacked forever; the records are then re-read by whoever owns them next.
        """
        if not batch.begin(self.app):
            return
        try:
            await self.handle(name, batch.messages, self.processes[name])
        except Exception as e:
            log.exception("agent %s: a batch of %d was not delivered; stopping", name, len(batch.messages))
            await self.app.crash(e)
            raise
        batch.ack()

    async def handle(self, name: str, messages: list[Any], process: Process) -> None:
        """Process one batch of Faust messages; return only when its outputs are delivered."""
        records = [
            Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp or 0.0) for m in messages
        ]
        staged = self.staged.get(name, [])
        result = await self._process_safely(process, records, staged)
        await self._deliver(result)
        for table in staged:  # state after outputs: a crash in between replays, never loses, an alert
            table.apply()
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
        event is dead-lettered and the rest still get processed."""
        try:
            return await _call(process, records)
        except Exception:  # noqa: BLE001 - fall back to one record at a time
            log.warning("batch of %d failed; retrying one record at a time", len(records), exc_info=True)
        for table in staged:  # the failed attempt's writes must not leak into the retry
            table.discard()
        merged = BatchResult()
        for record in records:
            try:
                one = await _call(process, [record])
            except Exception as e:  # noqa: BLE001 - the dead letter carries the reason
                merged.dead(record, "process", describe_exception(e), type(e).__name__)
                continue
            merged.outputs.extend(one.outputs)
            merged.dead_letters.extend(one.dead_letters)
        return merged

    async def _deliver(self, result: BatchResult) -> None:
        dlq = self.settings.topics.dead_letters
        outputs = list(result.outputs)
        for d in result.dead_letters:
            key = d.record.key.decode("utf-8", "replace") if d.record.key else ""
            outputs.append(Output(dlq, key, to_dead_letter(d.record, d.stage, d.error).to_bytes()))
            self.metrics.dead_letters.labels(topic=d.record.topic, stage=d.stage, reason=d.reason).inc()
        for attempt, delay in enumerate((*_SEND_RETRY_S, None)):
            try:
                await self._send_all(outputs)
                break
            except Exception as e:  # noqa: BLE001 - Kafka away: keep the batch unacked and retry
                if delay is None:
                    raise
                log.warning("sending %d outputs failed (attempt %d): %s", len(outputs), attempt + 1, e)
                await asyncio.sleep(delay)
        counts: dict[str, int] = {}
        for o in outputs:
            counts[o.topic] = counts.get(o.topic, 0) + 1
        for topic, n in counts.items():
            self.metrics.events_out.labels(topic=topic).inc(n)

    async def _send_all(self, outputs: list[Output]) -> None:
        producer = self.app.producer
        futures = [
            await producer.send(o.topic, o.key.encode("utf-8"), o.value, None, None, None) for o in outputs
        ]
        if futures:
            await asyncio.gather(*futures)

    # --- timers -------------------------------------------------------------
    async def _poll_model(self) -> None:
        loop = asyncio.get_running_loop()
        version = await loop.run_in_executor(None, self.model_registry.current_version)
        if version is None or version == self.model.detector.version:
            return
        try:
            detector = await loop.run_in_executor(None, self.model_registry.load_current)
        except DetectorError as e:
            # A promoted model that fails its checks (sha256, skops types) is refused and the current
            # one kept: raising here crashed the whole worker (found by bench.chaos.security).
            if version != self._refused_version:
                log.error("model %s refused, keeping %s: %s", version, self.model.detector.version, e)  # noqa: TRY400
                self._refused_version = version
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
