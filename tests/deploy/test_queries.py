"""Every PromQL expression of the dashboard and the rules parses and reads metrics that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.deploy.queries import deploy_queries, exported_metrics, metric_names, rules
from tests.deploy.tools import explain, promtool, run

# Labels Prometheus adds to every scraped series, and histogram buckets' own.
_TARGET_LABELS = {"job", "instance", "le"}


def _exported() -> dict[str, set[str]]:
    """Sample name -> label names, for every family in the workers' and collectors' metrics."""
    exported = {"up": {"job", "instance"}, **exported_metrics()}
    for _, rule in rules():
        if "record" in rule:
            exported[rule["record"]] = set(re.findall(r"\w+", _outer_by(rule["expr"])))
    return exported


def _outer_by(expr: str) -> str:
    match = re.match(r"\s*\w+\s+by\s*\(([^)]*)\)", expr)
    assert match, f"recording rule without an outer `by`: {expr}"
    return match.group(1)


def test_queries_cover_every_panel_and_rule() -> None:
    queries = deploy_queries()
    sources = [q.source for q in queries]
    assert len(sources) == len(set(sources)), "duplicate query sources"
    assert sum(q.is_panel for q in queries) >= 20
    assert sum(q.source.startswith("rule:") for q in queries) == len(list(rules()))
    assert all("$" not in q.expr for q in queries)


def test_every_query_parses(tmp_path: Path) -> None:
    # promtool has no query-only parser here (2.42); as recording rules, every expression goes
    # through the same PromQL parser `check rules` uses.
    queries = deploy_queries()
    rule_file = tmp_path / "queries.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "deploy_queries",
                        "rules": [
                            {"record": f"deploy_query_{i}", "expr": q.expr} for i, q in enumerate(queries)
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    proc = run([promtool(), "check", "rules", str(rule_file)])
    assert proc.returncode == 0, explain(proc)
    assert f"{len(queries)} rules found" in proc.stdout


def test_broken_query_is_caught(tmp_path: Path) -> None:
    rule_file = tmp_path / "bad.yml"
    rule_file.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum by (topic (x)"}]}]})
    )
    proc = run([promtool(), "check", "rules", str(rule_file)])
    assert proc.returncode != 0


def test_queries_read_only_exported_metrics() -> None:
    exported = _exported()
    for q in deploy_queries():
        names = metric_names(q.expr)
        assert names, f"{q.source}: reads no LabStream metric: {q.expr}"
        unknown = names - exported.keys()
        assert not unknown, f"{q.source}: unknown metric(s) {sorted(unknown)} in {q.expr}"


def test_grouping_labels_exist_on_the_metrics_read() -> None:
    exported = _exported()
    for q in deploy_queries():
        available = set().union(*(exported[n] for n in metric_names(q.expr))) | _TARGET_LABELS
        for group in re.findall(r"\bby\s*\(([^)]*)\)", q.expr):
            labels = set(re.findall(r"\w+", group))
            assert labels <= available, f"{q.source}: grouping by {sorted(labels - available)} in {q.expr}"
        for label in re.findall(r"\{?\s*(\w+)\s*=~?\s*\"", q.expr):
            assert label in available, f"{q.source}: matcher on unknown label {label} in {q.expr}"
