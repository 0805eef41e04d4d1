"""Worker process for the pipeline benchmark: ``python -m bench._agent pipeline|noop|take``.

``pipeline`` is exactly ``labstream worker``. ``noop`` is the same worker (same
Faust settings, same agents, same ack-after-delivery path) whose pipelines
return nothing: the consume-only baseline. ``take`` is stock Faust with the
same settings: one agent per input topic iterating ``stream.take_events``
and acking, the path LabStream used before its batch channel (for context).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bench._workers import GO_FILE_ENV
from foundation.settings import Settings
from stream_processors.app import create_worker
from stream_processors.records import BatchResult, Record

_TAKE_WITHIN_S = 0.2  # stock take_events waits this long for a batch to fill (LabStream's old default)


def _wait_for_go() -> None:
    """Start together with the other workers of a run, so they join the group's first generation together.

    The heavy imports (Faust, aiokafka, scikit-learn, the CLI) are done before the wait, so the
    workers' joins land within a fraction of a second of each other, inside the broker's
    ``group.initial.rebalance.delay.ms``; without it the first worker takes every partition and the
    second one's join rebalances the group in the middle of the measurement.
    """
    go = os.environ.get(GO_FILE_ENV)
    if not go:
        return
    import labstream.cli  # noqa: F401 - the imports a worker needs, before the signal
    import stream_processors.app  # noqa: F401

    Path(f"{go}.loaded.{os.getpid()}").touch()
    deadline = time.monotonic() + 300
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no start signal at {go} within 300 s")
        time.sleep(0.01)


def _noop(records: list[Record]) -> BatchResult:
    return BatchResult()


def _stock_take_events(settings: Settings) -> None:
    import faust
    from faust.worker import Worker as FaustWorker
    from prometheus_client import CollectorRegistry

    from stream_processors.app import faust_settings
    from stream_processors.metrics import WorkerMetrics
    from stream_processors.web import register_views

    class _Holder:
        """Just enough of a Worker for the shared /ready and /metrics views."""

        def __init__(self) -> None:
            self.registry = CollectorRegistry()
            self.metrics = WorkerMetrics(self.registry)
            self.app = faust.App(settings.app_id, **faust_settings(settings))
            self.model = type("M", (), {"detector": type("D", (), {"version": "none"})()})()

    h = _Holder()
    for topic_name in settings.topics.inputs():
        counter = h.metrics.events_in.labels(topic=topic_name)

        async def agent(stream: Any, counter: Any = counter) -> None:
            async for events in stream.take_events(settings.batch_size, within=_TAKE_WITHIN_S):
                counter.inc(len(events))

        h.app.agent(h.app.topic(topic_name, partitions=settings.partitions), name=f"take.{topic_name}")(agent)
    register_views(h.app, registry=h.registry, get_detector=lambda: h.model.detector)  # type: ignore[arg-type,return-value]
    FaustWorker(h.app, loglevel="warning", quiet=True).execute_from_commandline()


def main(mode: str) -> int:
    """Run a worker the way ``labstream worker`` does (same CLI, logging and settings)."""
    _wait_for_go()
    if mode == "take":
        _stock_take_events(Settings())
        return 0
    from labstream import cli

    if mode == "noop":
        import stream_processors.app as app_module

        def create_noop_worker(settings: Settings, registry: Any = None) -> Any:
            worker = create_worker(settings, registry)
            for name in list(worker.processes):
                worker.processes[name] = _noop
            return worker

        app_module.create_worker = create_noop_worker  # type: ignore[assignment]
    return cli.main(["worker"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "pipeline"))
