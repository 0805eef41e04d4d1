"""The reduced chaos scenarios, in CI: the same code as ``make chaos`` with the quick sizes.

They run on the session's Apache Kafka (``broker``); the collector outage reaches it through the
session's TCP proxy (``proxied_broker``).

1,000 hypothesis cases (10,000 in ``make chaos``), a 5 s broker outage (30 s), about
3,000 events per crash and rebalance run (10,000). The soak runs in ``make chaos`` only.
Each test fails with the scenario's account when an event is lost, an alert is
duplicated, or a check fails. See ``docs/guarantees.md``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench.chaos import Account, environment
from labstream.kafka_cluster import KafkaCluster
from tests.fixtures.proxy import Proxy

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]


async def _run(name: str, broker: KafkaCluster, tmp_path: Path, proxy: Proxy | None = None) -> list[Account]:
    with environment(broker.bootstrap, tmp_path, quick=True, proxy=proxy) as env:
        out = await importlib.import_module(f"bench.chaos.{name}").run(env)
    accounts = out if isinstance(out, list) else [out]
    for a in accounts:
        print(
            f"{a.scenario}: in {a.events_in}, processed {a.processed}, dead {a.dead_lettered}, "
            f"lost {a.lost}, duplicate alerts {a.duplicate_alerts} (redelivered {a.redelivered_alerts}); "
            f"{a.detail}"
        )
    return accounts


def _assert_ok(accounts: list[Account]) -> None:
    for a in accounts:
        assert a.lost == 0, f"{a.scenario}: {a.lost} events lost; {a.failures}"
        assert a.duplicate_alerts == 0, f"{a.scenario}: {a.duplicate_alerts} duplicate alerts"
        assert not a.failures, f"{a.scenario}: {a.failures}"


async def test_bad_input_is_dead_lettered_or_refused_and_nothing_goes_down(broker, tmp_path) -> None:
    accounts = await _run("bad_input", broker, tmp_path)
    _assert_ok(accounts)
    kafka, http = accounts
    assert kafka.dead_lettered > 0 and http.dead_lettered > 0


async def test_worker_kill_9_loses_nothing_and_duplicates_no_alert(broker, tmp_path) -> None:
    _assert_ok(await _run("worker_crash", broker, tmp_path))


async def test_rebalance_loses_nothing_and_duplicates_no_alert(broker, tmp_path) -> None:
    _assert_ok(await _run("rebalance", broker, tmp_path))


async def test_broker_outage_and_killed_collector_with_full_spool(broker, proxied_broker, tmp_path) -> None:
    _assert_ok(await _run("collector_broker", broker, tmp_path, proxied_broker))


async def test_security(broker, tmp_path) -> None:
    _assert_ok(await _run("security", broker, tmp_path))
