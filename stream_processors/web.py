"""The worker's HTTP endpoints: ``/health``, ``/ready``, ``/metrics`` (and ``/analyze``).

Faust's own debugging views (router, tables, graph, stats) are switched off in
:func:`stream_processors.app.faust_settings`; these are what a worker exposes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.web import View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector import Detector
from stream_processors.analyze_api import judge_analyze

_MAX_ANALYZE_BYTES = 64 * 1024


def _drop_production_index(app: Any) -> None:
    """Faust mounts its production index at ``/`` (``{"status": "OK"}``) whenever the stats views
    are off, and no setting turns it off; a worker exposes nothing but the views below
    (``tests/stream_processors/test_web_exposure.py``). Dropped before the web server applies blueprints."""
    manager = app.web.blueprints
    enabled = manager._enabled  # noqa: SLF001 - BlueprintManager has no public way to remove one
    manager._enabled = [(prefix, bp) for prefix, bp in enabled if "production_index" not in str(bp)]  # noqa: SLF001


def register_views(
    app: faust.App,
    *,
    registry: CollectorRegistry,
    get_detector: Callable[[], Detector | None],
    max_listed_errors: int = 50,
) -> None:
    """Mount the views on ``app``: they read the metrics ``registry`` and the model ``get_detector``
    returns now (it changes when a new one is promoted), nothing else of the worker."""
    _drop_production_index(app)

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        return self.json({"status": "alive"})

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        rebalancing = bool(getattr(app, "rebalancing", False))
        det = get_detector()
        model = det.version if det else None
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
            status, answer = judge_analyze(raw, get_detector, max_listed_errors, ())  # the API's answers
            return self.json(answer, status=status)

    @app.page("/metrics")
    async def metrics(self: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the full header goes in headers=
        return self.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
