"""Topic-level configs of every topic LabStream creates and of Faust's changelogs.

Pure functions of the replication factor, here so that both the composition root
(``labstream.broker``) and the worker (``stream_processors.app``) use the same ones.

>>> topic_configs(3)["min.insync.replicas"]
'2'
"""

from __future__ import annotations

__all__ = ["min_insync_for", "topic_configs"]


def min_insync_for(replication_factor: int) -> int:
    """min.insync.replicas LabStream sets: RF-1 when RF >= 2 (one broker may be down), else 1."""
    return replication_factor - 1 if replication_factor >= 2 else 1


def topic_configs(replication_factor: int) -> dict[str, str]:
    """Topic-level configs of every topic LabStream creates (and of Faust's changelogs): min ISR,
    and records up to 16 MiB (the collector's max request; Kafka's default is 1 MiB)."""
    return {
        "min.insync.replicas": str(min_insync_for(replication_factor)),
        "max.message.bytes": str(17 * 2**20),
    }
