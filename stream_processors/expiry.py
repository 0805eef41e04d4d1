"""Idle table keys are forgotten: bounded state for CLI sessions and failure streaks.

Each pipeline stamps the state it writes with ``"at"`` (wall-clock seconds of the last event it
applied). :func:`expire_idle` deletes the keys idle longer than ``idle_s``; deleting a Faust table
key writes a tombstone to its changelog, so a restarted or new owner does not restore it either.
Only keys whose changelog partition this worker actively owns are deleted (a standby copy is
another worker's to expire), and a state without ``"at"`` (written before this existed) is kept.

>>> t = {"old": {"at": 0.0}, "new": {"at": 95.0}, "legacy": {"modes": []}}
>>> expire_idle(t, now=100.0, idle_s=10.0, owned=lambda key: True)
1
>>> sorted(t)
['legacy', 'new']
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from aiokafka.partitioner import murmur2


def idle_keys(table: MutableMapping[str, Any], now: float, idle_s: float) -> list[str]:
    out = []
    for key, value in list(table.items()):
        at = value.get("at") if isinstance(value, dict) else None
        if isinstance(at, int | float) and not isinstance(at, bool) and now - float(at) > idle_s:
            out.append(key)
    return out


def expire_idle(
    table: MutableMapping[str, Any], *, now: float, idle_s: float, owned: Callable[[str], bool]
) -> int:
    """Delete the keys of ``table`` idle for more than ``idle_s`` whose partition ``owned`` says is
    ours; returns how many."""
    n = 0
    for key in idle_keys(table, now, idle_s):
        if owned(key):
            del table[key]
            n += 1
    return n


def raw_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2: Java, kafka-python, aiokafka) gives ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
