"""``POST /analyze`` and ``GET /health``: the first design's HTTP API, on LabStream's detector.

``/analyze`` judges one reading on its own, without the device's history (the body
carries only the five metrics, like the first design's), so the detector's global
regime decides: the same model a device's first events meet in the stream. The
streaming pipeline judges each device against its own baseline instead.

``/analyze`` requires the API's credentials (``Depends(require_credentials)``: on
``labstream api`` the app's guard checks them and limits the body); ``/health`` is
public. The body is parsed and validated in a worker thread, and a 422 lists at
most ``max_errors`` errors (``errors_not_listed`` counts the rest) without echoing
values or unknown keys.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> app.include_router(analyze_router(lambda: None))
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from starlette.concurrency import run_in_threadpool

from detector import Detector, ModelFollower, ModelRegistry
from foundation.api_guard import bound_errors, require_credentials
from schemas import METRIC_FIELDS, NetworkMetrics

log = logging.getLogger(__name__)

# The same five fields, types and bounds as the network-metrics event, and nothing else.
AnalyzeRequest: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "AnalyzeRequest",
    __config__=ConfigDict(extra="forbid"),
    **{
        name: (NetworkMetrics.model_fields[name].annotation, NetworkMetrics.model_fields[name])
        for name in METRIC_FIELDS
    },
)


class ReasonOut(BaseModel):
    feature: str
    value: float
    expected: float
    deviation: float


class AnalyzeResponse(BaseModel):
    """The first design's four fields, plus why and which model."""

    is_anomaly: bool
    anomaly_score: float
    risk_level: str  # low / medium / high; "low" when normal, as in the first design
    recommendations: list[str]
    reasons: list[ReasonOut]
    model_version: str


class HealthResponse(BaseModel):
    status: str  # "healthy" with a model loaded, else "degraded"
    model_loaded: bool
    model_version: str | None


def analyze_reading(det: Detector, values: dict[str, Any]) -> AnalyzeResponse:
    """Score one validated reading (the five metrics) on its own; shared by the API and the worker."""
    row = np.array([[float(values[f]) for f in METRIC_FIELDS]])
    # one reading on its own: judged by the fleet at once (no later readings of a device to wait for)
    [v] = det.score_batch(row, ["api"], {}, defer_levels=False)
    return AnalyzeResponse(
        is_anomaly=v.is_anomaly,
        anomaly_score=v.score,
        risk_level=v.severity or "low",
        recommendations=v.recommendations,
        reasons=[ReasonOut(**r) for r in v.reasons],
        model_version=det.version,
    )


def parse_analyze_request(
    raw: bytes, max_errors: int = 50, loc_prefix: tuple[str, ...] = ("body",)
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``(values, {})`` for a valid body, else ``(None, 422 body)``: at most ``max_errors`` errors
    (``loc``, ``msg``, ``type``; a key outside the five metrics shows as ``<unknown>``), with
    ``errors_not_listed``. Shared by the API and the worker, so both answer alike."""
    try:
        return AnalyzeRequest.model_validate_json(raw).model_dump(), {}
    except ValidationError as e:
        errors = (
            {
                "loc": [
                    *loc_prefix,
                    *(p if isinstance(p, int) or p in METRIC_FIELDS else "<unknown>" for p in err["loc"]),
                ],
                "msg": err["msg"].split(",", 1)[0] if err["type"] == "json_invalid" else err["msg"],
                "type": err["type"],
            }
            for err in e.errors(include_url=False, include_input=False, include_context=False)
        )
        listed, rest = bound_errors(errors, max_errors)
        return None, {"detail": listed, "errors_not_listed": rest}


def judge_analyze(
    raw: bytes,
    get_detector: Callable[[], Detector | None],
    max_errors: int = 50,
    loc_prefix: tuple[str, ...] = ("body",),
) -> tuple[int, Any]:
    """``POST /analyze`` once for the API and the worker: ``(status, JSON body)`` for a raw body.

    200 with :class:`AnalyzeResponse`, 422 with the bounded, value-free errors of
    :func:`parse_analyze_request`, 503 when no model is loaded. CPU work: run it off the event loop.
    """
    values, refusal = parse_analyze_request(raw, max_errors, loc_prefix)
    if values is None:
        return 422, refusal
    det = get_detector()
    if det is None:
        return 503, {"detail": "no anomaly model loaded"}
    return 200, analyze_reading(det, values).model_dump()


def analyze_router(get_detector: Callable[[], Detector | None], *, max_errors: int = 50) -> APIRouter:
    """Routes ``POST /analyze`` and ``GET /health``; ``get_detector`` returns the current model or None."""
    router = APIRouter(tags=["detector"])

    def judge(raw: bytes) -> tuple[int, Any]:  # in a worker thread: parsing, validation, scoring
        return judge_analyze(raw, get_detector, max_errors)

    @router.post(
        "/analyze",
        response_model=AnalyzeResponse,
        dependencies=[Depends(require_credentials)],
        responses={422: {"description": "Invalid body: at most max_errors errors, errors_not_listed"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": AnalyzeRequest.model_json_schema()}},
            }
        },
    )
    async def analyze(request: Request) -> Any:
        status, answer = await run_in_threadpool(judge, await request.body())
        if status != 200:
            return JSONResponse(answer, status_code=status)
        return answer

    @router.get("/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        det = get_detector()
        return HealthResponse(
            status="healthy" if det is not None else "degraded",
            model_loaded=det is not None,
            model_version=det.version if det is not None else None,
        )

    return router


def registry_getter(
    registry: ModelRegistry, poll_s: float = 2.0, *, ensure: bool = False
) -> Callable[[], Detector | None]:
    """A ``get_detector`` that follows the registry's promoted version, checking at most every ``poll_s``.

    With ``ensure``, an empty registry gets the synthetic demo model (as a worker does at start).
    A missing or refused model leaves the previous one in service (or None: ``/health`` says degraded).
    """
    held: dict[str, Any] = {"det": None, "checked": -math.inf}
    follower = ModelFollower(registry)

    def get() -> Detector | None:
        now = time.monotonic()
        if now - held["checked"] < poll_s:
            return held["det"]
        held["checked"] = now
        if ensure and registry.current_version() is None:
            held["det"] = registry.ensure_model()
            follower.version = held["det"].version
            return held["det"]
        det = follower.poll()  # a refused version is logged once; the one in service stays
        if det is not None:
            held["det"] = det
        return held["det"]

    return get
