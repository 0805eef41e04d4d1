"""The worker's HTTP endpoints: ``/health``, ``/ready``, ``/metrics`` (and ``/analyze``).

Faust's own debugging views (router, tables, graph, stats) are switched off in
:func:`stream_processors.app.faust_settings`; these are what a worker exposes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream_processors.analyze_api import analyze_reading, parse_analyze_request

_MAX_ANALYZE_BYTES = 64 * 1024

if TYPE_CHECKING:
    from stream_processors.app import Worker


def _drop_production_index(app: Any) -> None:
    """Faust mounts its production index at ``/`` (``{"status": "OK"}``) whenever the stats views
    are off, and no setting turns it off; a worker must expose nothing but the views below
    (issue 6, found by bench.chaos.security). Dropped before the web server applies blueprints."""
    manager = app.web.blueprints
    enabled = manager._enabled  # noqa: SLF001 - BlueprintManager has no public way to remove one
    manager._enabled = [(prefix, bp) for prefix, bp in enabled if "production_index" not in str(bp)]  # noqa: SLF001


def register_views(worker: Worker) -> None:
    app = worker.app
    _drop_production_index(app)

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

    @app.page("/analyze")
    class Analyze(View):
        """The first design's ``POST /analyze`` on the worker: same body, answer and 422s as the API."""

        async def post(self, request: Any) -> Any:
            raw = await request.content.read(_MAX_ANALYZE_BYTES + 1)
            if len(raw) > _MAX_ANALYZE_BYTES:
                return self.json({"detail": f"body over {_MAX_ANALYZE_BYTES} bytes"}, status=413)
            values, refusal = parse_analyze_request(raw, worker.settings.api_max_listed_errors, ())
            if values is None:  # the same bounded, value-free 422 as the API's
                return self.json(refusal, status=422)
            answer = analyze_reading(worker.model.detector, values)
            return self.json(answer.model_dump())

    @app.page("/metrics")
    async def metrics(self: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the full header goes in headers=
        return self.bytes(generate_latest(worker.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
