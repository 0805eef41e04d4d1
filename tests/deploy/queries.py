"""Every PromQL expression LabStream ships: Grafana dashboard targets and Prometheus rules.

``deploy_queries()`` is shared by the static checks in ``tests/deploy`` and by the live
Prometheus test in ``tests/integration``, which evaluates each one against a real server.

>>> qs = deploy_queries()
>>> any(q.source.startswith("dashboard:") for q in qs) and any(q.source.startswith("rule:") for q in qs)
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
DASHBOARD_PATH = DEPLOY_DIR / "grafana" / "dashboards" / "labstream.json"
PROMETHEUS_DIR = DEPLOY_DIR / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "labstream.rules.test.yml"
COMPOSE_PATH = DEPLOY_DIR / "compose.yaml"

_METRIC_NAME = re.compile(r"\b(?:labstream_[a-z0-9_]+|labstream:[a-z0-9_:]+|up)\b")


class DeployQuery(NamedTuple):
    """One PromQL expression and where it comes from.

    ``source`` is ``dashboard:<panel title>:<refId>`` or ``rule:<group>:<alert or record name>``.
    """

    source: str
    expr: str

    @property
    def is_panel(self) -> bool:
        return self.source.startswith("dashboard:")


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))


def dashboard_panels(dashboard: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including panels nested in collapsed rows."""
    stack = list((dashboard or load_dashboard())["panels"])
    while stack:
        panel = stack.pop(0)
        if panel.get("type") == "row":
            stack[0:0] = panel.get("panels", [])
        else:
            yield panel


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rules() -> Iterator[tuple[str, dict[str, Any]]]:
    """(group name, rule) for every rule in every rule file."""
    for path in rule_files():
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                yield group["name"], rule


def grafana_to_promql(expr: str, rate_interval: str = "1m") -> str:
    """Replace the Grafana variables the dashboard uses with concrete durations."""
    for var in ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}", "$__range"):
        expr = expr.replace(var, rate_interval)
    expr = expr.replace("$device", ".*")  # the dashboard's device variable (alert links set it): all
    if "$" in expr:
        raise ValueError(f"unsupported Grafana variable in {expr!r}")
    return expr


def deploy_queries(rate_interval: str = "1m") -> list[DeployQuery]:
    """Every dashboard target and every rule expression, Grafana variables replaced."""
    queries = []
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            queries.append(
                DeployQuery(
                    f"dashboard:{panel['title']}:{target['refId']}",
                    grafana_to_promql(target["expr"], rate_interval),
                )
            )
    for group, rule in rules():
        name = rule.get("alert") or rule["record"]
        queries.append(DeployQuery(f"rule:{group}:{name}", rule["expr"]))
    return queries


def exported_metrics() -> dict[str, set[str]]:
    """Sample name -> label names of every family the workers and collectors export.

    Read from a real exposition: every labelled metric gets one child, then the registry is
    collected, so the names are exactly what Prometheus scrapes (``_total``, ``_bucket``,
    ``_info``; no ``_sum`` for a histogram with negative buckets, as prometheus-client omits it).
    """
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from producers.metrics import CollectorMetrics
    from stream_processors.metrics import WorkerMetrics

    exported: dict[str, set[str]] = {}
    for owner_cls in (WorkerMetrics, CollectorMetrics):
        registry = CollectorRegistry()
        owner = owner_cls(registry)
        for metric in vars(owner).values():
            labelnames = getattr(metric, "_labelnames", ())  # private: no public accessor
            if isinstance(metric, MetricWrapperBase) and labelnames:
                metric.labels(*("x" for _ in labelnames))
        for family in registry.collect():
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    exported.setdefault(sample.name, set()).update(set(sample.labels) - {"le"})
    return exported


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (LabStream's own, recorded ones, and ``up``)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_METRIC_NAME.findall(without_strings))
