"""The worker's HTTP endpoints: ``/health``, ``/ready``, ``/metrics`` (and ``/analyze``).

Faust's own debugging views (router, tables, graph, stats) are switched off in
:func:`stream_processors.app.faust_settings`, and its production index by the worker's web
driver (:data:`WEB_DRIVER`); these are what a worker exposes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.web import View
from faust.web.drivers import DRIVERS
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector import Detector
from stream_processors.analyze_api import judge_analyze

_MAX_ANALYZE_BYTES = 64 * 1024


class WorkerWeb(AiohttpWeb):
    """Faust's aiohttp web server without its production index.

    Faust mounts ``production_blueprints`` (an index at ``/`` answering ``{"status": "OK"}``)
    whenever the stats views are off, and no setting turns it off; its public class attribute
    does. A worker exposes nothing but the views of :func:`register_views`
    (``tests/stream_processors/test_web_exposure.py``).
    """

    production_blueprints = ()


WEB_DRIVER = "labstream-worker://"
"""``faust.App(web=...)`` for :class:`WorkerWeb`: registered in Faust's web driver registry."""

DRIVERS[WEB_DRIVER.partition(":")[0]] = f"{__name__}:WorkerWeb"


def register_views(
    app: faust.App,
    *,
    registry: CollectorRegistry,
    get_detector: Callable[[], Detector | None],
    max_listed_errors: int = 50,
) -> None:
    """Mount the views on ``app``: they read the metrics ``registry`` and the model ``get_detector``
    returns now (it changes when a new one is promoted), nothing else of the worker."""

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
