"""Checkpoint against a fake intake: outputs, then state, then offsets; nothing moves on a failure."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stream_processors.checkpoint import Checkpoint
from stream_processors.intake import Batch


class _FakeIntake:
    """What the consumer sees of a batch: tracked, then acked (the commit may pass it)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def track_message(self, m: Any) -> None:
        self.log.append(f"track {m.offset}")

    def ack(self, m: Any) -> bool:
        self.log.append(f"ack {m.offset}")
        return True


class _Table:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def apply(self) -> None:
        self.log.append(f"state {self.name}")


def _batch(log: list[str]) -> Batch:
    batch = Batch(_FakeIntake(log), [SimpleNamespace(offset=o, tracked=False) for o in (5, 6)])
    batch.begin()
    return batch


async def test_outputs_then_state_then_offsets() -> None:
    log: list[str] = []

    async def deliver(result: Any) -> None:
        log.append(f"outputs {result}")

    batch = _batch(log)
    await Checkpoint(deliver).commit("r1", [_Table("a", log), _Table("b", log)], batch)
    assert log == ["track 5", "track 6", "outputs r1", "state a", "state b", "ack 5", "ack 6"]


async def test_a_failed_delivery_moves_neither_state_nor_offsets() -> None:
    log: list[str] = []

    async def deliver(result: Any) -> None:
        raise ConnectionError("Kafka is away")

    batch = _batch(log)
    with pytest.raises(ConnectionError):
        await Checkpoint(deliver).commit("r1", [_Table("a", log)], batch)
    assert log == ["track 5", "track 6"]  # still in progress: the commit cannot pass offset 5


async def test_a_timers_work_has_no_offsets() -> None:
    log: list[str] = []

    async def deliver(result: Any) -> None:
        log.append("outputs")

    await Checkpoint(deliver).commit(None, [_Table("a", log)])
    assert log == ["outputs", "state a"]


async def test_before_state_runs_between_outputs_and_state_and_only_with_state() -> None:
    # the worker's hook: its producer must know the tables' changelog topics before their writes
    log: list[str] = []

    async def deliver(result: Any) -> None:
        log.append(f"outputs {result}")

    async def before_state(tables: list[Any]) -> None:
        log.append("before " + ",".join(t.name for t in tables))

    checkpoint = Checkpoint(deliver, before_state=before_state)
    await checkpoint.commit("r1", [_Table("a", log), _Table("b", log)], _batch(log))
    assert log == ["track 5", "track 6", "outputs r1", "before a,b", "state a", "state b", "ack 5", "ack 6"]
    log.clear()
    await checkpoint.commit("r2", [], _batch(log))  # a stateless agent: no metadata wait
    assert log == ["track 5", "track 6", "outputs r2", "ack 5", "ack 6"]


async def test_a_failing_before_state_moves_neither_state_nor_offsets() -> None:
    log: list[str] = []

    async def deliver(result: Any) -> None:
        log.append("outputs")

    async def before_state(tables: list[Any]) -> None:
        raise RuntimeError("metadata")

    with pytest.raises(RuntimeError):
        await Checkpoint(deliver, before_state=before_state).commit("r1", [_Table("a", log)], _batch(log))
    assert log == ["track 5", "track 6", "outputs"]
