"""Agents do not hold each other up (issue 14): a full agent queue does not stop the one fetch loop.

Real Faust channels and the worker's consumer class, no broker: ``_dispatch`` is what the fetch
loop calls for every batch of a routed topic.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition as TP  # what the fetch loop hands over
from faust.types import TP as FaustTP

from stream_processors.intake import MAX_BACKLOG, BatchChannel
from tests.stream_processors.test_batching import _faust_app


def _messages(offsets: range) -> list[Any]:
    return [SimpleNamespace(offset=o, generation_id=1, tracked=False) for o in offsets]


async def test_a_full_agent_queue_does_not_hold_up_another_agents_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _faust_app()
    consumer = app.consumer
    code_tp = TP("student-events", 0)
    metrics_tp = TP("network-metrics", 0)
    assigned = {FaustTP(*code_tp), FaustTP(*metrics_tp)}
    monkeypatch.setattr(consumer, "assignment", lambda: assigned)
    consumer._get_active_partitions().update(assigned)
    code, metrics = BatchChannel(app, maxsize=1), BatchChannel(app, maxsize=4)
    # keep the subscribers: Faust holds a channel's subscribers weakly
    # (the clones themselves, not only their queues: a collected clone leaves the channel with no
    # subscriber, so it never looks full, and the test's outcome would hang on the garbage collector)
    code_sub, metrics_sub = code.clone(is_iterator=True), metrics.clone(is_iterator=True)
    code_q, metrics_q = code_sub.queue, metrics_sub.queue
    await code.put("a slow code batch in hand")  # the code agent's queue is full

    for i in range(MAX_BACKLOG + 1):  # more code batches: none may block the fetch loop
        await asyncio.wait_for(consumer._dispatch(code_tp, _messages(range(10 * i, 10 * i + 3)), code), 1)
    assert code_tp not in consumer._get_active_partitions()  # its partition is no longer fetched
    await asyncio.wait_for(consumer._dispatch(metrics_tp, _messages(range(500, 502)), metrics), 1)
    assert [m.offset for m in metrics_q.get_nowait().messages] == [500, 501]  # alerting goes on
    assert metrics_tp in consumer._get_active_partitions()

    # the code agent catches up: its batches arrive whole, in offset order, then it is fetched again
    assert await code_q.get() == "a slow code batch in hand"
    got = []
    for _ in range(MAX_BACKLOG + 1):
        got.append([m.offset for m in (await asyncio.wait_for(code_q.get(), 5)).messages])
    assert got == [[10 * i, 10 * i + 1, 10 * i + 2] for i in range(MAX_BACKLOG + 1)]
    for _ in range(50):
        if code_tp in consumer._get_active_partitions():
            break
        await asyncio.sleep(0.01)
    assert code_tp in consumer._get_active_partitions()
    # Faust's own TP type only: the fetch loop asserts it (an aiokafka TopicPartition crashed it)
    assert all(isinstance(tp, FaustTP) for tp in consumer._get_active_partitions())
    # with the backlog gone a batch goes straight to the queue again, behind nothing
    await asyncio.wait_for(consumer._dispatch(code_tp, _messages(range(90, 91)), code), 1)
    assert [m.offset for m in code_q.get_nowait().messages] == [90]


async def test_batches_arriving_while_a_backlog_waits_keep_their_order() -> None:
    app = _faust_app()
    consumer = app.consumer
    tp = TP("student-events", 1)
    channel = BatchChannel(app, maxsize=2)
    sub = channel.clone(is_iterator=True)  # kept: Faust holds subscribers weakly
    queue = sub.queue
    await channel.put("x")
    await channel.put("y")  # full
    await consumer._dispatch(tp, _messages(range(0, 2)), channel)  # backlog
    assert queue.get_nowait() == "x"  # room again, but a backlog is waiting: the next one queues behind it
    await consumer._dispatch(tp, _messages(range(2, 4)), channel)
    got = [queue.get_nowait()]
    for _ in range(2):
        got.append(await asyncio.wait_for(queue.get(), 5))
    assert got[0] == "y"
    assert [[m.offset for m in b.messages] for b in got[1:]] == [[0, 1], [2, 3]]
