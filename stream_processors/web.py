"""The worker's HTTP endpoints: ``/health``, ``/ready``, ``/metrics`` (and ``/analyze``).

Faust's own debugging views (router, tables, graph, stats) are switched off in
:func:`stream_processors.app.faust_settings`; these are what a worker exposes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from stream_processors.app import Worker


def register_views(worker: Worker) -> None:
    app = worker.app

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        return self.json({"status": "alive"})

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        rebalancing = bool(getattr(app, "rebalancing", False))
        model = worker.model.detector.version if worker.model.detector else None
        ok = assigned > 0 and not rebalancing and model is not None
        body = {
            "ready": ok,
            "assigned_partitions": assigned,
            "rebalancing": rebalancing,
            "model_version": model,
        }
        return self.json(body, status=200 if ok else 503)

    @app.page("/metrics")
    async def metrics(self: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the full header goes in headers=
        return self.bytes(generate_latest(worker.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
