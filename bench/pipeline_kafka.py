"""``make bench``'s pipeline figures on Apache Kafka: the rows of :mod:`bench.pipeline`, prefixed
``[kafka]``, on a one-node Apache Kafka (the tests' launcher, KRaft) started here; two workers
against one on six partitions; then, on the same node, the Quix Streams peer of the metrics job
(:mod:`bench.quix`). tansu's rows (``bench.pipeline``) stay beside them.

    python -m bench.pipeline_kafka [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import traceback
from pathlib import Path
from typing import Any

from bench import pipeline, quix
from labstream.kafka_cluster import KafkaCluster, kafka_version

SCALE_PARTITIONS = 6


def run() -> list[dict[str, Any]]:
    """Rows for ``make bench`` (full size)."""
    return measure(quick=False)


def measure(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="labstream-bench-kafka-") as d:
        # Kafka's default initial rebalance delay (the test cluster's is 0, for speed): workers started
        # together (bench._workers.start_together) join the group's first generation together
        with KafkaCluster(
            Path(d) / "kafka", nodes=1, extra_properties={"group.initial.rebalance.delay.ms": "3000"}
        ) as cluster:
            rows = pipeline.run(
                cluster.bootstrap, quick=quick, kind="kafka", scale_partitions=SCALE_PARTITIONS
            )
            try:
                rows += quix.run(cluster.bootstrap, quick=quick)
            except Exception as e:  # noqa: BLE001 - the Kafka rows above stand; make bench still fails
                traceback.print_exc()
                rows.append(
                    {"name": "quix: Quix Streams peer", "value": "failed", "unit": "", "target": "",
                     "detail": f"{e!r}"[:300], "failed": True}
                )  # fmt: skip
    for r in rows:
        r["detail"] = f"{r['detail']}; Apache Kafka {kafka_version()}, one node"
    return rows


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_kafka")
    parser.add_argument("--quick", action="store_true", help="fewer events")
    args = parser.parse_args()
    for r in measure(quick=args.quick):
        print(f"{r['name']:<78} {r['value']:>10} {r['unit']:<6} {r['target']:<7} {r['detail']}")
