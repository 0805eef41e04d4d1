"""The LabStream HTTP API: one FastAPI app, routers from the teams that serve HTTP.

``create_api`` builds the app around a collector (made from settings unless
given) and one Prometheus registry, served at ``/metrics``; OpenAPI at
``/docs``. Routers from other packages are included through ``routers`` (or
added to :func:`_routers` below), so every endpoint shares the app, its auth
conventions and its metrics.

**Auth is the default.** The whole app sits behind :class:`foundation.api_guard.ApiGuard`:
every route, whoever adds it and however, needs a bearer token from
``LABSTREAM_API_TOKENS`` and gets a body of at most ``api_max_request_bytes``, and
failed logins are rate limited per client address. Only the paths in
:data:`foundation.api_guard.PUBLIC_PATHS` (``/health``, ``/docs``, ``/openapi.json``)
answer without a token. A new router should also declare
``dependencies=[Depends(require_credentials)]`` so it fails closed on an app without
the guard; the OpenAPI document marks every guarded operation with the ``bearer``
scheme. ``tests/labstream/test_api_guard.py`` walks the OpenAPI document and every
mounted route: a route that answers without credentials, or takes an oversized
body, fails it. Validation errors (422) list at most ``api_max_listed_errors``
errors, with ``errors_not_listed`` counting the rest, and never echo input values.

>>> from foundation.settings import Settings
>>> app = create_api(Settings(bootstrap_servers="127.0.0.1:9092"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector import ModelRegistry
from foundation.api_guard import PUBLIC_PATHS, install_api_guard, install_bounded_validation_errors
from foundation.settings import Settings
from labstream.tutor import TutorViews, tutor_router
from producers import Collector
from producers.http import ingest_router, request_body_schema
from producers.xapi import xapi_router
from stream_processors.analyze_api import analyze_router, registry_getter

__all__ = ["create_api"]


def _routers(settings: Settings, collector: Collector, registry: CollectorRegistry) -> list[APIRouter]:
    """Every router of the app. Other teams: add yours here (e.g. the detector's /analyze, /health)."""
    detector = registry_getter(ModelRegistry.from_settings(settings), settings.model_poll_s, ensure=True)
    return [
        ingest_router(settings, collector),
        analyze_router(detector, max_errors=settings.api_max_listed_errors),
        xapi_router(settings, collector),
    ]


def create_api(
    settings: Settings,
    collector: Collector | None = None,
    registry: CollectorRegistry | None = None,
    *,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The FastAPI app: ``POST /v1/events``, ``/metrics``, ``/docs``, plus ``routers``."""
    registry = collector.metrics.registry if collector is not None else (registry or CollectorRegistry())
    owned = collector is None
    collector = collector or Collector(settings, registry=registry, source="labstream-api")
    metrics = collector.metrics
    tutor_views = TutorViews(settings)  # follows exercise-insights and alerts from the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        tutor_views.close()
        if owned:
            collector.close()

    app = FastAPI(
        title="LabStream ingest API",
        version="1",
        description="Events from the LMS: pseudonymised, scrubbed of secrets, published to Kafka.",
        lifespan=lifespan,
        redoc_url=None,  # one documentation page is enough surface
    )
    app.state.collector = collector
    app.state.registry = registry
    app.state.tutor_views = tutor_views
    tutor = tutor_router(collector.pseudonymizer, tutor_views)
    for router in [*_routers(settings, collector, registry), tutor, *routers]:
        app.include_router(router)
    install_bounded_validation_errors(app, settings.api_max_listed_errors)
    # inside the request counter below (added later, so outside), which thus counts refusals too
    install_api_guard(app, settings)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")  # the template: never a value
        metrics.http_requests.labels(route=route, status=str(response.status_code)).inc()
        metrics.http_seconds.labels(route=route).observe(time.perf_counter() - started)
        return response

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = spec.setdefault("components", {})
            body = request_body_schema()
            components.setdefault("schemas", {}).update(body.pop("$defs"))
            components["schemas"]["IngestBody"] = body
            components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
            for path, operations in spec.get("paths", {}).items():
                for operation in operations.values():
                    if (
                        isinstance(operation, dict) and path not in PUBLIC_PATHS
                    ):  # the guard asks every other path for a token
                        operation.setdefault("security", [{"bearer": []}])
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
