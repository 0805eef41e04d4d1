"""The provisioned Grafana dashboard: structure, datasource wiring, coverage of the metric families."""

from __future__ import annotations

import yaml

from tests.deploy.queries import COMPOSE_PATH, DEPLOY_DIR, dashboard_panels, deploy_queries, load_dashboard

DATASOURCE_VAR = "${DS_PROMETHEUS}"
PROVISIONING = DEPLOY_DIR / "grafana" / "provisioning"

# Metric families the issue asks the dashboard to show, each by a sample name a panel must read.
REQUIRED_FAMILIES = {
    "throughput in": "labstream_events_in_total",
    "throughput out": "labstream_events_out_total",
    "latency": "labstream_processing_seconds_bucket",
    "lag": "labstream_consumer_lag",
    "dead letters": "labstream_dead_letters_total",
    "alerts": "labstream_alerts_total",
    "anomaly scores": "labstream_anomaly_score_bucket",
    "command categories": "labstream_command_categories_total",
    "syntax errors": "labstream_code_checks_total",
    "model version": "labstream_model_info",
    "drift": "labstream_drift_psi",
    "spool depth": "labstream_spool_depth",
    "scrubbed secrets": "labstream_scrubbed_secrets_total",
    "http requests": "labstream_http_requests_total",
}


def test_dashboard_identity() -> None:
    dash = load_dashboard()
    assert dash["uid"] == "labstream-overview"
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["id"] is None  # provisioned dashboards get their id from Grafana
    assert dash["title"] == "LabStream"


def test_panels_are_unique_and_laid_out_on_the_grid() -> None:
    dash = load_dashboard()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area


def test_every_panel_queries_prometheus_through_the_datasource_variable() -> None:
    dash = load_dashboard()
    [var] = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert "${" + var["name"] + "}" == DATASOURCE_VAR and var["query"] == "prometheus"
    for panel in dashboard_panels(dash):
        assert panel["title"] and panel.get("description"), panel
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_VAR}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_VAR
            assert target["expr"].strip()


def test_dashboard_shows_every_metric_family() -> None:
    panel_exprs = " ".join(q.expr for q in deploy_queries() if q.is_panel)
    missing = {what: name for what, name in REQUIRED_FAMILIES.items() if name not in panel_exprs}
    assert not missing
    assert "histogram_quantile(0.5," in panel_exprs and "histogram_quantile(0.99," in panel_exprs
    assert 'outcome="syntax_error"' in panel_exprs


def test_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    dash = load_dashboard()
    [datasource] = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    [var] = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert var["current"]["value"] == datasource["uid"]

    [provider] = yaml.safe_load((PROVISIONING / "dashboards" / "labstream.yml").read_text())["providers"]
    compose = yaml.safe_load(COMPOSE_PATH.read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
