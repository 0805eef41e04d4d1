"""The ``/tutor`` page in a real headless browser (Debian's chromium, driven by Playwright) on a real
``labstream api`` (uvicorn) and worker: the page renders the stuck students and the exercise
insights, the lookup finds a planted student, and no student id appears in any response or log."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import uvicorn

from foundation.settings import Settings
from labstream.api import create_api
from labstream.broker import free_port
from producers import Collector, Pseudonymizer
from tests.fixtures.kafka import consume_all

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
TOKEN = "tok-" + "t" * 28
PLANTED = f"s{uuid.uuid4().int % 10**7:07d}"  # a student number, as a tutor would type it
OTHER = f"s{uuid.uuid4().int % 10**7:07d}x"
EXERCISE = "ex-tutor-" + uuid.uuid4().hex[:6]


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="info")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    return server, thread, f"http://127.0.0.1:{port}"


def test_tutor_page_in_chromium(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from playwright.sync_api import sync_playwright  # with Debian's chromium: `make system-deps`

    caplog.set_level(logging.DEBUG)
    settings = settings_factory(api_tokens=[TOKEN])
    worker = worker_factory(settings)
    with Collector(settings) as c:
        for student, exercise in ((PLANTED, EXERCISE), (OTHER, EXERCISE + "-b")):
            for i in range(3):
                c.track_code_submission(student, f"def f(:\n    return {i}\n", exercise)
        c.track_code_submission(OTHER, "import netmiko\n", EXERCISE)
        c.track_lab_command(OTHER, "lab-tutor", 0, "en", "cisco_ios")
        c.track_lab_command(OTHER, "lab-tutor", 1, "shw run", "cisco_ios")
    alerts = settings.topics.alerts
    got = asyncio.run(
        consume_all(
            settings.bootstrap_servers or "", [alerts], until=lambda g: len(g[alerts]) >= 2, timeout=120
        )
    )
    assert len(got[alerts]) == 2, worker.log_tail()
    pseudonym = Pseudonymizer.from_settings(settings).pseudonym(PLANTED)
    other = Pseudonymizer.from_settings(settings).pseudonym(OTHER)

    server, thread, base = _serve(create_api(settings))
    bodies: list[tuple[str, int, bytes]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                anonymous = browser.new_context()
                r = anonymous.request.get(base + "/tutor")  # a page would raise on the unanswered challenge
                assert r.status == 401 and r.headers["www-authenticate"].startswith(
                    "Basic"
                )  # behind the API's auth
                assert anonymous.request.get(base + "/v1/insights/exercises").status == 401
                anonymous.close()

                context = browser.new_context(http_credentials={"username": "tutor", "password": TOKEN})
                page = context.new_page()
                responses: list[Any] = []
                page.on("response", lambda resp: responses.append(resp))
                external: list[str] = []
                page.on("request", lambda req: None if req.url.startswith(base) else external.append(req.url))
                assert page.goto(base + "/tutor").status == 200
                # the followers read the topics from the start: the page shows them within a refresh or two
                for _ in range(20):
                    if (
                        page.locator("#stuck tbody tr").count() >= 2
                        and page.locator("#insights tbody tr").count()
                    ):
                        break
                    page.wait_for_timeout(1000)
                    page.reload()
                stuck = page.locator("#stuck tbody").inner_text()
                assert pseudonym in stuck and other in stuck
                insights = page.locator("#insights tbody").inner_text()
                assert EXERCISE in insights and "netmiko (1)" in insights
                labs = page.locator("#labs tbody").inner_text()
                assert "cisco_ios" in labs and "50%" in labs and "enable (1)" in labs

                page.fill("#student", PLANTED)
                page.click("#lookup button")
                page.wait_for_selector("#lookup-alerts")
                found = page.locator("#lookup-alerts").inner_text()
                assert pseudonym in found and other not in found
                assert page.input_value("#student") == ""  # the box is cleared
                page.fill("#student", "nobody-" + uuid.uuid4().hex[:6])
                page.click("#lookup button")
                page.locator("#lookup-result", has_text="No alerts").wait_for()  # (the CSP forbids eval)
                assert PLANTED not in page.content()
                assert external == []  # no external assets
                for resp in responses:
                    try:
                        bodies.append((resp.url, resp.status, resp.body()))
                    except Exception:  # noqa: BLE001 - redirects and aborted requests have no body
                        bodies.append((resp.url, resp.status, b""))
                context.close()
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
    assert any(url.endswith("/tutor/api/lookup") and status == 200 for url, status, _ in bodies)
    for student in (PLANTED, OTHER):
        for url, _, body in bodies:
            assert student.encode() not in body and student not in url, url
        assert student not in caplog.text, "a student id in the API's log"
        assert student not in worker.log_tail(100_000), "a student id in the worker's log"
    assert any(
        "/tutor/api/lookup" in rec.getMessage() for rec in caplog.records
    )  # the access log was captured
