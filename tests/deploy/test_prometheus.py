"""The Prometheus scrape config and rules, checked with the real promtool."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.deploy.queries import (
    PROMETHEUS_CONFIG,
    PROMETHEUS_DIR,
    RULE_TESTS,
    metric_names,
    rule_files,
    rules,
)
from tests.deploy.tools import explain, promtool, run

REQUIRED_ALERTS = {
    "LabStreamWorkerDown",
    "LabStreamConsumerLagGrowing",
    "LabStreamDeadLetterRate",
    "LabStreamAlertStorm",
    "LabStreamModelDrift",
    "LabStreamSpoolNotDraining",
}


def _alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for _, rule in rules() if "alert" in rule}


API_TOKEN_FILE = "/run/secrets/labstream_api_token"  # where compose mounts the API token for the scrape


def _with_token_file(config: Path, tmp_path: Path) -> None:
    """Point the config's API token file at a real file: promtool checks that it exists."""
    token = tmp_path / "labstream_api_token"
    token.write_text("t" * 32)
    text = config.read_text()
    assert API_TOKEN_FILE in text  # the scrape of the API's /metrics carries the token
    config.write_text(text.replace(API_TOKEN_FILE, str(token)))


def test_promtool_check_config_from_any_directory(tmp_path: Path) -> None:
    # Rule files are resolved against the config file's directory, not the cwd: check both a
    # run from elsewhere and a copy of the whole prometheus/ folder (what compose mounts).
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, copy)
    _with_token_file(copy / "prometheus.yml", tmp_path)
    proc = run([promtool(), "check", "config", str(copy / "prometheus.yml")], cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert "1 rule files found" in proc.stdout + proc.stderr

    proc = run([promtool(), "check", "config", "prometheus.yml"], cwd=copy)
    assert proc.returncode == 0, explain(proc)


def test_the_api_scrape_sends_the_token() -> None:
    jobs = {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]}
    assert jobs["labstream-api"]["authorization"] == {"type": "Bearer", "credentials_file": API_TOKEN_FILE}
    assert "authorization" not in jobs["labstream-worker"]  # the worker's /metrics is open on its port


def test_promtool_check_rules() -> None:
    files = rule_files()
    assert files, "no rule files under deploy/prometheus/rules"
    proc = run([promtool(), "check", "rules", *map(str, files)])
    assert proc.returncode == 0, explain(proc)


def test_promtool_rule_unit_tests_pass(tmp_path: Path) -> None:
    proc = run([promtool(), "test", "rules", str(RULE_TESTS)], cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert "SUCCESS" in proc.stdout


def test_rule_unit_tests_fail_when_a_rule_is_broken(tmp_path: Path) -> None:
    # The unit tests must be able to fail: raise the drift threshold so the firing case cannot fire.
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, copy)
    rules_file = copy / "rules" / "labstream.rules.yml"
    text = rules_file.read_text(encoding="utf-8")
    assert "(labstream_drift_psi) > 0.25" in text
    rules_file.write_text(text.replace("(labstream_drift_psi) > 0.25", "(labstream_drift_psi) > 0.95"))
    proc = run([promtool(), "test", "rules", str(copy / "tests" / RULE_TESTS.name)])
    assert proc.returncode != 0, explain(proc)
    assert "LabStreamModelDrift" in proc.stdout + proc.stderr


def test_required_alerts_exist_with_severity_and_annotations() -> None:
    alerts = _alerts()
    assert REQUIRED_ALERTS <= alerts.keys()
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"].get("summary"), name
        assert rule["annotations"].get("description"), name
    assert alerts["LabStreamWorkerDown"]["expr"].strip() == 'up{job="labstream-worker"} == 0'


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    spec = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert [str((RULE_TESTS.parent / f).resolve()) for f in spec["rule_files"]] == [
        str(p.resolve()) for p in rule_files()
    ]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in spec["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert alerts - fires == set(), "alerts with no firing unit test"
    assert alerts - quiet == set(), "alerts with no non-firing unit test"


def test_scrape_config_matches_compose() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    compose = yaml.safe_load((PROMETHEUS_DIR.parent / "compose.yaml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    worker = jobs["labstream-worker"]
    [sd] = worker["dns_sd_configs"]
    assert sd["type"] == "A" and sd["names"] == ["worker"]
    worker_env = compose["services"]["worker"]["environment"]
    assert str(sd["port"]) == str(worker_env["LABSTREAM_WORKER_WEB_PORT"])
    assert worker.get("metrics_path", "/metrics") == "/metrics"

    api_env = compose["services"]["api"]["environment"]
    assert jobs["labstream-api"]["static_configs"] == [{"targets": [f"api:{api_env['LABSTREAM_API_PORT']}"]}]


def test_alerts_read_recording_rules_recorded_earlier_in_their_group() -> None:
    # Across groups the evaluation order is undefined (promtool's unit tests turn flaky): an alert
    # that reads a recorded series must sit after that recording rule in the same group.
    seen: dict[str, list[str]] = {}
    for group, rule in rules():
        recorded = seen.setdefault(group, [])
        if "record" in rule:
            recorded.append(rule["record"])
            continue
        for name in metric_names(rule["expr"]):
            if ":" in name:
                assert name in recorded, f"{rule['alert']} reads {name} before or outside its group"
