"""The tutor's routes leave credentials to the API's guard: behind it a token is enough, and
without it every route is a 401 that follows nothing (fails closed)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from foundation.api_guard import ApiGuard
from labstream.tutor import tutor_router
from producers import Pseudonymizer

TOKEN = "tutor-router-token-" + "t" * 16  # noqa: S105 - a test token
ROUTES = [
    ("GET", "/tutor"),
    ("GET", "/tutor/app.js"),
    ("GET", "/tutor/api/stuck"),
    ("POST", "/tutor/api/lookup"),
    ("GET", "/v1/insights/exercises"),
    ("GET", "/v1/insights/labs"),
    ("GET", "/v1/insights/exercises/ex-1"),
]


class FakeViews:
    """What the routes read, and how often they asked to start following."""

    def __init__(self) -> None:
        self.started = 0

    def start(self) -> FakeViews:
        self.started += 1
        return self

    def stuck(self) -> list[Any]:
        return []

    def exercises(self) -> list[Any]:
        return []

    def lab_device_types(self) -> list[Any]:
        return []

    def exercise(self, exercise_id: str) -> None:
        return None

    def alerts_of(self, pseudonyms: list[str]) -> list[Any]:
        return []


def _app(guarded: bool) -> tuple[FastAPI, FakeViews]:
    views = FakeViews()
    app = FastAPI()
    app.include_router(tutor_router(Pseudonymizer(b"k" * 32, "k1"), views))  # type: ignore[arg-type]
    if guarded:
        app.add_middleware(ApiGuard, tokens=[TOKEN], max_body_bytes=4096)
    return app, views


async def _statuses(app: FastAPI, headers: dict[str, str]) -> dict[str, int]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        return {
            path: (await c.request(method, path, json={"student_id": "s-1"}, headers=headers)).status_code
            for method, path in ROUTES
        }


async def test_without_the_guard_every_tutor_route_is_a_401_and_follows_nothing() -> None:
    app, views = _app(guarded=False)
    statuses = await _statuses(app, {"Authorization": f"Bearer {TOKEN}"})
    assert statuses == {path: 401 for _, path in ROUTES}
    assert views.started == 0


async def test_behind_the_guard_a_token_reaches_every_tutor_route() -> None:
    app, views = _app(guarded=True)
    assert await _statuses(app, {}) == {path: 401 for _, path in ROUTES}
    statuses = await _statuses(app, {"Authorization": f"Bearer {TOKEN}"})
    assert statuses == {path: 404 if path.endswith("ex-1") else 200 for _, path in ROUTES}
    assert views.started == len(ROUTES)
