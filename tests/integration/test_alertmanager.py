"""`labstream alertmanager` against the real Alertmanager (Debian's prometheus-alertmanager, with amtool).

A worker turns readings into an incident's firing and resolved records; the bridge posts them to
Alertmanager's v2 API; Alertmanager routes them with deploy/alertmanager/alertmanager.yml (only its
webhook URLs and timings changed for the test) to webhook receivers served by the test.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from foundation.settings import Settings
from labstream.alertmanager import Bridge
from labstream.broker import free_port
from producers import Collector
from schemas import NetworkMetricsIn
from stream_processors.alerting import AlertContext

pytestmark = [pytest.mark.integration]

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
COLD = dict(
    packet_loss=0.0015, latency_ms=10.0, bandwidth_utilization=0.30, connection_count=50, error_rate=0.0011
)
SPIKE = dict(
    packet_loss=0.3, latency_ms=900.0, bandwidth_utilization=0.99, connection_count=50, error_rate=0.2
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: `make system-deps` installs Debian's prometheus-alertmanager")
    return path


class _Receivers:
    """Webhook receivers: every notification Alertmanager POSTs, by path (= receiver name)."""

    def __init__(self) -> None:
        self.got: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.got.setdefault(self.path.strip("/"), []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, receiver: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for n in self.got.get(receiver, []) for a in n["alerts"]]


@pytest.fixture
def receivers() -> Iterator[_Receivers]:
    r = _Receivers()
    yield r
    r.server.shutdown()


@pytest.fixture
def alertmanager(tmp_path: Path, receivers: _Receivers) -> Iterator[str]:
    config = yaml.safe_load(DEPLOY_CONFIG.read_text(encoding="utf-8"))
    for rec in config["receivers"]:
        for hook in rec["webhook_configs"]:
            hook["url"] = f"http://127.0.0.1:{receivers.port}/{rec['name']}"
    config["route"].update(group_wait="1s", group_interval="1s")
    for route in config["route"]["routes"]:
        route.update(group_wait="1s", group_interval="1s")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    check = subprocess.run(
        [_tool("amtool"), "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port("127.0.0.1")
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            _tool("prometheus-alertmanager"),
            f"--config.file={path}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).read()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("Alertmanager did not start: " + (tmp_path / "alertmanager.log").read_text())
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_the_deploy_config_passes_amtool() -> None:
    out = subprocess.run(
        [_tool("amtool"), "check-config", str(DEPLOY_CONFIG)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "network_anomaly", "severity": "critical"}, "pager"),
        ({"alertname": "network_anomaly", "severity": "warning"}, "ops"),
        ({"alertname": "struggling_student", "severity": "critical"}, "tutors"),
        ({"alertname": "model_drift", "severity": "warning"}, "model-owner"),
    ],
)
def test_routes(labels: dict[str, str], receiver: str) -> None:
    out = subprocess.run(
        [_tool("amtool"), "config", "routes", "test", f"--config.file={DEPLOY_CONFIG}"]
        + [f"{k}={v}" for k, v in labels.items()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.split() == [receiver], out.stdout + out.stderr


def _wait(what: str, cond: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _reading(minute: int, values: dict[str, Any]) -> NetworkMetricsIn:
    return NetworkMetricsIn(device_id="edge-am", occurred_at=T0 + dt.timedelta(minutes=minute), **values)


def test_an_incident_reaches_the_pager_firing_then_resolved_and_never_the_tutors(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., Any],
    alertmanager: str,
    receivers: _Receivers,
) -> None:
    settings = settings_factory(
        alert_window_s=300.0, alertmanager_url=alertmanager, alertmanager_resend_s=2.0
    )
    worker = worker_factory(settings)
    bridge = Bridge(settings)
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    try:
        # a student alert straight on the topic: the tutors' receiver has something to get
        ctx = AlertContext.from_settings(settings)
        at = T0.timestamp()
        student = ctx.record(
            "struggling_student",
            "anon-1",
            "firing",
            {
                "alert_id": "s-1",
                "severity": "high",
                "started_at": at,
                "last_seen_at": at,
                "score": 3.0,
                "count": 3,
            },
            summary="a student failed exercise ex1 3 times in a row",
            extra_labels={"exercise_id": "ex1"},
        )
        p = KafkaProducer(bootstrap_servers=settings.bootstrap_list)
        p.send(settings.topics.alerts, key=b"anon-1", value=student.to_bytes())
        p.flush()
        p.close()
        with Collector(settings) as c:
            for i in range(40):
                c.submit(_reading(i, COLD))
            for i in range(3):
                c.submit(_reading(40 + i, SPIKE))
            c.flush()
        worker.wait_ready()

        def pager(status: str) -> list[dict[str, Any]]:
            return [
                a
                for a in receivers.alerts("pager")
                if a["status"] == status and a["labels"]["alertname"] == "network_anomaly"
            ]

        _wait("the pager's firing notification", lambda: bool(pager("firing")))
        [fired] = {a["labels"]["alert_id"]: a for a in pager("firing")}.values()
        assert fired["labels"]["device"] == "edge-am" and fired["labels"]["severity"] == "critical"
        assert fired["annotations"]["dashboard_url"].endswith("var-device=edge-am")
        # with no new records, the bridge re-sends its active set (every 2 s here)
        sent = bridge.sent
        _wait(
            "two re-sends of the active set", lambda: bridge.sent >= sent + 2 * len(bridge.active), timeout=30
        )
        # the device's normal readings a window later resolve the incident
        with Collector(settings) as c:
            for i in range(10):
                c.submit(_reading(43 + i, COLD))
            c.flush()
        _wait("the pager's resolved notification", lambda: bool(pager("resolved")))
        assert {a["labels"]["alert_id"] for a in pager("resolved")} == {fired["labels"]["alert_id"]}
        _wait("the tutors' notification", lambda: bool(receivers.alerts("tutors")))
        assert {a["labels"]["alertname"] for a in receivers.alerts("tutors")} == {"struggling_student"}
        assert all(a["labels"]["alertname"] != "struggling_student" for a in receivers.alerts("pager"))
    finally:
        bridge.stop.set()
        thread.join(timeout=20)
    # a restarted bridge rebuilds its active set from the topic: the student alert only
    again = Bridge(settings, post=lambda alerts: None)
    again.rebuild()
    assert [a["labels"]["alert_id"] for a in again.active.all()] == ["s-1"]
    assert not thread.is_alive()


def test_a_drift_mutes_low_anomalies_of_its_model_version_only(
    alertmanager: str, receivers: _Receivers
) -> None:
    from labstream.alertmanager import post_alerts, postable

    ctx = AlertContext()
    at = T0.timestamp()

    def record(alert_type: str, subject: str, severity: str, version: str, aid: str) -> Any:
        state = {
            "alert_id": aid,
            "severity": severity,
            "started_at": at,
            "last_seen_at": at,
            "score": 1.0,
            "count": 1,
        }
        device = subject if alert_type == "network_anomaly" else None
        return ctx.record(
            alert_type, subject, "firing", state, summary="t", device=device, model_version=version
        )

    def status() -> dict[str, list[str]]:
        with urllib.request.urlopen(alertmanager + "/api/v2/alerts", timeout=5) as r:  # noqa: S310
            return {a["labels"]["alert_id"]: a["status"]["inhibitedBy"] for a in json.loads(r.read())}

    # The drift first, as it is in the pipeline: Alertmanager's inhibitor learns of a source alert
    # through its own subscription to the alert store, so a source and its targets in one post race
    # it (seen once in a loaded full run: the ops receiver got low-v1 one group_wait after the post).
    post_alerts(alertmanager, [postable(record("model_drift", "model:v1", "medium", "v1", "drift-v1"))])
    _wait("the drift", lambda: "drift-v1" in status(), timeout=30)
    post_alerts(
        alertmanager,
        [
            postable(record("network_anomaly", "r-low-v1", "low", "v1", "low-v1")),
            postable(record("network_anomaly", "r-low-v2", "low", "v2", "low-v2")),
            postable(record("network_anomaly", "r-high-v1", "high", "v1", "high-v1")),
        ],
    )

    _wait("the inhibition", lambda: bool(status().get("low-v1")), timeout=30)
    got = status()
    assert got["low-v1"] and not got["low-v2"] and not got["high-v1"] and not got["drift-v1"], got
    _wait("the pager's notification", lambda: bool(receivers.alerts("pager")), timeout=30)
    assert {a["labels"]["alert_id"] for a in receivers.alerts("pager")} == {"high-v1"}
    _wait("ops' notification", lambda: "low-v2" in {a["labels"]["alert_id"] for a in receivers.alerts("ops")})
    assert "low-v1" not in {a["labels"]["alert_id"] for a in receivers.alerts("ops")}
