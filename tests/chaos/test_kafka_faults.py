"""Apache Kafka faults on the three-node cluster, reduced: the same code as ``make chaos``.

Leader of the input partitions kill -9'ed under load, rolling restart with two workers, the
whole cluster restarted (tables rebuilt from the changelogs, equal before and after), a worker
killed while it restores its tables. Each fails with its account when an event is lost, an alert
is duplicated, per-key order breaks or a check fails. See ``bench/chaos/kafka_faults.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bench.chaos import Account, Env, environment
from bench.chaos import kafka_faults as faults
from labstream.kafka_cluster import KafkaCluster

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]


async def _run(scenario: Callable[[Env], Awaitable[Account]], cluster: KafkaCluster, tmp_path: Path) -> None:
    with environment(cluster.bootstrap, tmp_path, quick=True, cluster=cluster) as env:
        a = await scenario(env)
    print(
        f"{a.scenario}: in {a.events_in}, processed {a.processed}, dead {a.dead_lettered}, lost {a.lost}, "
        f"duplicate alerts {a.duplicate_alerts} (redelivered {a.redelivered_alerts}); {a.detail}"
    )
    assert a.lost == 0, f"{a.scenario}: {a.lost} events lost; {a.failures}"
    assert a.duplicate_alerts == 0, f"{a.scenario}: {a.duplicate_alerts} duplicate alerts"
    assert not a.failures, f"{a.scenario}: {a.failures}"
    assert a.events_in > 0 and a.processed + a.dead_lettered == a.events_in


async def test_leader_of_the_inputs_killed_under_load(kafka_cluster3: KafkaCluster, tmp_path: Path) -> None:
    await _run(faults.leader_kill, kafka_cluster3, tmp_path)


async def test_rolling_restart_with_two_workers(kafka_cluster3: KafkaCluster, tmp_path: Path) -> None:
    await _run(faults.rolling_restart, kafka_cluster3, tmp_path)


async def test_whole_cluster_restart_rebuilds_equal_tables(
    kafka_cluster3: KafkaCluster, tmp_path: Path
) -> None:
    await _run(faults.cluster_restart, kafka_cluster3, tmp_path)


async def test_worker_killed_while_restoring_its_tables(kafka_cluster3: KafkaCluster, tmp_path: Path) -> None:
    await _run(faults.recovery_kill, kafka_cluster3, tmp_path)
