"""What tutors see: ``GET /v1/insights/exercises[/{id}]`` and the ``/tutor`` page.

They follow output topics (:class:`~labstream.follow.TopicFollower`): ``exercise-insights`` and
``lab-insights`` (the latest value of each window) and ``alerts`` (``struggling_student`` alerts,
by subject). ``GET /v1/insights/labs`` serves the lab device types.
Everything is behind the API's tokens: HTTP Basic (a tutor's browser asks for it; the password is
an API token) or a bearer token.

The page (HTML, CSS and script served from here, no external assets, a ``default-src 'self'``
content security policy) shows the stuck students by anonymous id, the exercise insights, and a box
where a tutor types a student id: the browser POSTs it (never in a URL), the server pseudonymises it
under the current and previous keys, answers that pseudonym's alerts, and keeps nothing: the id is
not stored, logged or echoed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from foundation.api_guard import require_credentials
from foundation.settings import Settings
from labstream.follow import TopicFollower
from producers.pseudonym import Pseudonymizer

__all__ = ["TutorViews", "tutor_router"]

_MAX_EXERCISES = 5000
_MAX_SUBJECTS = 20000
_MAX_ALERTS_PER_SUBJECT = 20
_WINDOWS_KEPT = {"hour": 48, "day": 14}
_LOOKUP_MAX_BYTES = 4096
_PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"


def keep_insight(value: dict[str, Any], state: dict[str, Any]) -> None:
    """The latest value of each (exercise, window size, window start); the newest windows kept."""
    exercises: dict[str, dict[tuple[str, str], dict[str, Any]]] = state.setdefault("exercises", {})
    exercise = str(value["exercise_id"])
    windows = exercises.pop(exercise, {})  # re-inserted last: the most recently updated
    windows[(str(value["window"]), str(value["window_start"]))] = value
    for kind, keep in _WINDOWS_KEPT.items():
        starts = sorted(start for k, start in windows if k == kind)
        for start in starts[:-keep]:
            del windows[(kind, start)]
    exercises[exercise] = windows
    while len(exercises) > _MAX_EXERCISES:
        del exercises[next(iter(exercises))]


def keep_lab_insight(value: dict[str, Any], state: dict[str, Any]) -> None:
    """The latest value of each (device type, window size, window start); the newest windows kept."""
    types: dict[str, dict[tuple[str, str], dict[str, Any]]] = state.setdefault("device_types", {})
    windows = types.setdefault(str(value["device_type"]), {})
    windows[(str(value["window"]), str(value["window_start"]))] = value
    for kind, keep in _WINDOWS_KEPT.items():
        for start in sorted(start for k, start in windows if k == kind)[:-keep]:
            del windows[(kind, start)]


def keep_alert(value: dict[str, Any], state: dict[str, Any]) -> None:
    """``struggling_student`` alerts by subject (an anonymous id), the latest version of each alert."""
    if value.get("alert_type") != "struggling_student":
        return
    subjects: dict[str, dict[str, dict[str, Any]]] = state.setdefault("subjects", {})
    subject = str(value["subject"])
    alerts = subjects.pop(subject, {})
    alerts.pop(str(value["alert_id"]), None)
    alerts[str(value["alert_id"])] = value
    while len(alerts) > _MAX_ALERTS_PER_SUBJECT:
        del alerts[next(iter(alerts))]
    subjects[subject] = alerts
    while len(subjects) > _MAX_SUBJECTS:
        del subjects[next(iter(subjects))]


def _alert_view(a: dict[str, Any]) -> dict[str, Any]:
    """An alert as the page shows it (schema v1 or v2)."""
    return {
        "alert_id": a.get("alert_id"),
        "anonymous_id": a.get("subject"),
        "severity": a.get("severity"),
        "status": a.get("status", "firing"),
        "since": a.get("started_at") or a.get("detected_at"),
        "failures": a.get("count"),
        "summary": a.get("summary") or (a.get("recommendations") or [""])[0],
        "recommendations": a.get("recommendations", []),
    }


class TutorViews:
    """The two followers and the read side of the tutor endpoints."""

    def __init__(self, settings: Settings) -> None:
        topics = settings.topics
        self.insights = TopicFollower(settings.bootstrap_list, topics.exercise_insights, keep_insight)
        self.alerts = TopicFollower(settings.bootstrap_list, topics.alerts, keep_alert)
        self.labs = TopicFollower(settings.bootstrap_list, topics.lab_insights, keep_lab_insight)

    def start(self) -> TutorViews:
        """Start following (idempotent): on the first request, so an API nobody asks stays idle."""
        self.insights.start()
        self.alerts.start()
        self.labs.start()
        return self

    def close(self) -> None:
        self.insights.close()
        self.alerts.close()
        self.labs.close()

    def lab_device_types(self) -> list[dict[str, Any]]:
        """Every device type with its most recent day and hour windows."""
        out = []
        with self.labs.lock:
            for device_type, windows in sorted(self.labs.state.get("device_types", {}).items()):
                latest = {kind: value for (kind, _start), value in sorted(windows.items())}
                out.append({"device_type": device_type, "day": latest.get("day"), "hour": latest.get("hour")})
        return out

    def exercise(self, exercise_id: str) -> list[dict[str, Any]] | None:
        with self.insights.lock:
            windows = self.insights.state.get("exercises", {}).get(exercise_id)
            if windows is None:
                return None
            return [v for _, v in sorted(windows.items(), key=lambda kv: (kv[0][0], kv[0][1]), reverse=True)]

    def exercises(self) -> list[dict[str, Any]]:
        """Every exercise with its most recent day and hour windows, most recently updated first."""
        out = []
        with self.insights.lock:
            for exercise, windows in reversed(self.insights.state.get("exercises", {}).items()):
                latest = {}
                for (kind, _start), value in sorted(windows.items()):
                    latest[kind] = value  # sorted by start: the last one wins
                out.append({"exercise_id": exercise, "day": latest.get("day"), "hour": latest.get("hour")})
        return out

    def stuck(self) -> list[dict[str, Any]]:
        """Students with a struggling alert that is not resolved, most recent first."""
        out = []
        with self.alerts.lock:
            for alerts in reversed(self.alerts.state.get("subjects", {}).values()):
                open_ = [a for a in alerts.values() if a.get("status", "firing") != "resolved"]
                if open_:
                    out.append(_alert_view(open_[-1]))
        return out

    def alerts_of(self, pseudonyms: list[str]) -> list[dict[str, Any]]:
        with self.alerts.lock:
            subjects = self.alerts.state.get("subjects", {})
            return [_alert_view(a) for p in pseudonyms for a in reversed(subjects.get(p, {}).values())]


def _asset(name: str) -> bytes:
    return resources.files("labstream").joinpath("tutor_assets", name).read_bytes()


def tutor_router(pseudonymizer: Pseudonymizer, views: TutorViews) -> APIRouter:
    """``/tutor`` (page, script, style, its JSON) and ``/v1/insights/exercises``, behind the API tokens."""

    def follow() -> None:
        views.start()  # on the first request, so an API nobody asks stays idle

    # credentials are the API guard's (HTTP Basic from a tutor's browser, or a bearer token);
    # require_credentials fails closed where no guard ran, before anything is followed
    router = APIRouter(tags=["tutor"], dependencies=[Depends(require_credentials), Depends(follow)])

    def asset(name: str, media_type: str) -> Callable[[], Any]:
        body = _asset(name)

        async def serve() -> Response:
            return Response(
                body,
                media_type=media_type,
                headers={"Content-Security-Policy": _PAGE_CSP, "X-Content-Type-Options": "nosniff"},
            )

        return serve

    router.add_api_route(
        "/tutor", asset("tutor.html", "text/html; charset=utf-8"), methods=["GET"], include_in_schema=False
    )
    router.add_api_route(
        "/tutor/app.js",
        asset("tutor.js", "text/javascript; charset=utf-8"),
        methods=["GET"],
        include_in_schema=False,
    )
    router.add_api_route(
        "/tutor/app.css",
        asset("tutor.css", "text/css; charset=utf-8"),
        methods=["GET"],
        include_in_schema=False,
    )

    @router.get("/tutor/api/stuck", summary="Students with an open struggling_student alert (anonymous ids)")
    async def stuck() -> Response:
        return JSONResponse({"students": views.stuck()})

    @router.post(
        "/tutor/api/lookup",
        summary="A student's alerts: the id is pseudonymised here, never stored, logged or echoed",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "student_id": {"type": "string", "minLength": 1, "maxLength": 256}
                            },
                            "required": ["student_id"],
                        }
                    }
                },
            }
        },
    )
    async def lookup(request: Request) -> Response:
        body = await request.body()  # bounded below; a tutor's form is a few bytes
        student = None
        if len(body) <= _LOOKUP_MAX_BYTES:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                data = None
            candidate = data.get("student_id") if isinstance(data, dict) else None
            if isinstance(candidate, str) and 0 < len(candidate.strip()) <= 256:
                student = candidate.strip()
        if student is None:
            return JSONResponse({"detail": 'body must be {"student_id": "..."}'}, status_code=422)
        pseudonyms = list(pseudonymizer.pseudonyms_during_rotation(student).values())
        del student  # nothing below holds it
        return JSONResponse(
            {"anonymous_ids": pseudonyms, "alerts": views.alerts_of(pseudonyms)},
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/v1/insights/exercises", summary="Every exercise's latest hour and day insight")
    async def exercises() -> Response:
        return JSONResponse({"exercises": views.exercises()})

    @router.get(
        "/v1/insights/labs", summary="Per lab device type: most used commands, share of unknown commands"
    )
    async def labs() -> Response:
        return JSONResponse({"device_types": views.lab_device_types()})

    @router.get(
        "/v1/insights/exercises/{exercise_id:path}",
        summary="An exercise's insight windows (topic exercise-insights), newest first per window size",
    )
    async def exercise(request: Request, exercise_id: str) -> Response:
        windows = views.exercise(exercise_id)
        if windows is None:
            return JSONResponse({"detail": "no insights for this exercise yet"}, status_code=404)
        return JSONResponse({"exercise_id": exercise_id, "windows": windows})

    return router
