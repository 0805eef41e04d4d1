"""``make chaos``: scenarios that break the pipeline on purpose and account for every event.

Each scenario module exposes ``async run(env) -> Account``; ``env.quick`` selects the
reduced sizes that ``tests/chaos/`` runs in CI. See ``docs/guarantees.md``.
"""

from bench.chaos.common import Account, Env, environment

__all__ = ["SCENARIOS", "Account", "Env", "environment"]

# run order: cheap and independent first, the 10-minute soak last
SCENARIOS = [
    "bench.chaos.security",
    "bench.chaos.bad_input",
    "bench.chaos.worker_crash",
    "bench.chaos.rebalance",
    "bench.chaos.collector_broker",
    "bench.chaos.api_crash",
    "bench.chaos.kafka_faults",  # on a three-node Apache Kafka cluster (NODES = 3)
    "bench.chaos.soak",
]
