"""The worker's web server serves its own views and nothing of Faust's (issue 6, security)."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from foundation.settings import Settings
from stream_processors.app import faust_settings
from stream_processors.web import register_views

ALLOWED = {"/health", "/ready", "/metrics", "/analyze"}


def test_only_health_ready_metrics_and_analyze_are_routed() -> None:
    app = faust.App("web-exposure-test", **faust_settings(Settings(bootstrap_servers="127.0.0.1:1")))
    register_views(app, registry=CollectorRegistry(), get_detector=lambda: None)
    app.web.init_server()  # what the worker does when its web server starts: blueprints, then our pages
    paths = {
        info.get("path") or info.get("formatter")
        for info in (route.resource.get_info() for route in app.web.web_app.router.routes())
    }
    assert paths == ALLOWED, f"unexpected routes: {paths - ALLOWED}"
