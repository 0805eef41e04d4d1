"""The batch path's guarantees without a broker: when a batch is acked, when it is dropped, and how
batch decoding still dead-letters each bad record on its own."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from schemas import LabCommand, NetworkMetrics
from stream_processors.intake import Batch
from stream_processors.records import BatchResult, Record, parse, parse_many


class _Consumer:
    def __init__(self) -> None:
        self.tracked: list[int] = []
        self.acked: list[int] = []

    def track_message(self, m: Any) -> None:
        self.tracked.append(m.offset)

    def ack(self, m: Any) -> bool:
        self.acked.append(m.offset)
        return True


def _batch(consumer: _Consumer) -> Batch:
    return Batch(consumer, [SimpleNamespace(offset=o, tracked=False) for o in (10, 11, 12)])


def test_batch_is_tracked_when_begun_and_acked_only_when_told() -> None:
    c = _Consumer()
    b = _batch(c)
    b.begin()
    assert c.tracked == [10, 11, 12] and c.acked == []  # in progress: the commit cannot pass offset 10
    assert all(m.tracked for m in b.messages)
    b.ack()
    assert c.acked == [10, 11, 12]


def _metric(device: str, **over: Any) -> bytes:
    values = dict(
        device_id=device,
        packet_loss=0.01,
        latency_ms=20.0,
        bandwidth_utilization=0.4,
        connection_count=100,
        error_rate=0.001,
    )
    return NetworkMetrics(**{**values, **over}).to_bytes()


def _records(values: list[bytes | None]) -> list[Record]:
    return [Record("m", 0, i, b"k", v) for i, v in enumerate(values)]


def test_good_batch_decodes_in_one_go_like_one_by_one() -> None:
    recs = _records([_metric(f"d{i}") for i in range(50)])
    result = BatchResult()
    got = parse_many(recs, NetworkMetrics, result)
    assert [e for _, e in got] == [parse(r, NetworkMetrics, BatchResult()) for r in recs]
    assert [r.offset for r, _ in got] == list(range(50)) and not result.dead_letters


def test_each_bad_record_gets_its_own_dead_letter() -> None:
    good = _metric("ok")
    bad_json = b"\xff\xfe{not json"
    invalid = json.dumps({**json.loads(good), "packet_loss": 7}).encode()
    recs = _records([good, bad_json, good, invalid, None, good])
    result = BatchResult()
    got = parse_many(recs, NetworkMetrics, result)
    assert [r.offset for r, _ in got] == [0, 2, 5]
    assert [(d.record.offset, d.stage) for d in result.dead_letters] == [
        (1, "decode"),
        (3, "validate"),
        (4, "decode"),
    ]


def test_values_that_only_make_sense_joined_are_still_rejected_one_by_one() -> None:
    """Two documents in one value, and one document split over two values, keep their count and
    would pair records with the wrong data if the join were trusted."""
    a, b = _metric("a"), _metric("b")
    doc = json.loads(_metric("c"))
    items = list(doc.items())
    head = json.dumps(dict(items[:4]))[:-1].encode()  # '{"k": v, ...' (open)
    tail = json.dumps(dict(items[4:]))[1:].encode()  # '"k": v, ...}' (closed)
    recs = _records([a + b"," + b, head, tail])
    result = BatchResult()
    assert parse_many(recs, NetworkMetrics, result) == []
    assert len(result.dead_letters) == 3


def test_commands_batch_decoding() -> None:
    ev = LabCommand(
        anonymous_id="k1-0123456789abcdef", session_id="s", seq=0, device_type="cisco_ios", command="sh ver"
    )
    recs = _records([ev.to_bytes(), b"{}"])
    result = BatchResult()
    assert [e for _, e in parse_many(recs, LabCommand, result)] == [ev]
    assert [d.stage for d in result.dead_letters] == ["validate"]


# --- the hand-over from the fetch loop to an agent's queue (a real Faust app, no broker) ----------
# Found on 2026-11-21 with tests/integration/test_batch_crash.py: after a restart, 4,000 of 6,000
# events had no output. Faust empties every channel queue when it resumes flow at the end of a
# recovery, and cancels a put waiting on a full queue, which ended the fetcher task for good.


def _faust_app() -> Any:
    from stream_processors.intake import BatchApp

    app = BatchApp(f"t-batching-{id(object())}", broker="kafka://127.0.0.1:1", store="memory://")
    app.flow_control.resume()  # a started worker's state; Faust starts it suspended
    return app


def _tp_messages(offsets: range) -> tuple[Any, list[Any]]:
    tp = SimpleNamespace(topic="lab-events", partition=0)
    return tp, [SimpleNamespace(offset=o, generation_id=1, tracked=False) for o in offsets]


async def test_agent_channels_keep_their_batches_when_faust_resumes_flow() -> None:
    from stream_processors.intake import BatchChannel

    app = _faust_app()
    faust_default = app.channel(maxsize=4).clone(is_iterator=True)
    ours = BatchChannel(app, maxsize=4).clone(is_iterator=True)
    await faust_default.put("batch")
    await ours.put("batch")
    app.flow_control.resume()  # what Faust's recovery does once a rebalance is over
    assert faust_default.queue.qsize() == 0  # Faust's own channel: emptied (the events are gone)
    assert ours.queue.qsize() == 1
    assert await ours.queue.get() == "batch"


async def test_hand_over_queues_again_a_put_cancelled_by_a_queue_clear() -> None:
    import asyncio

    from stream_processors.intake import BatchChannel

    app = _faust_app()
    channel = BatchChannel(app, maxsize=1)
    # keep the subscriber: Faust holds a channel's subscribers weakly, and a collected one
    # would make every put a no-op (the test then passed or failed with the garbage collector)
    subscriber = channel.clone(is_iterator=True)
    queue = subscriber.queue
    await channel.put("earlier batch")  # the queue is full: the next put waits
    tp, messages = _tp_messages(range(100, 103))
    hand_over = asyncio.ensure_future(app.consumer._hand_over(tp, messages, channel))
    await asyncio.sleep(0.05)
    assert not hand_over.done()
    queue.clear()  # a Faust queue clear cancels the waiting put
    await asyncio.wait_for(hand_over, 5)  # returns normally: the fetch loop goes on
    batch = queue.get_nowait()
    assert [m.offset for m in batch.messages] == [100, 101, 102]


async def test_hand_over_does_not_drop_a_batch_when_the_flow_is_suspended() -> None:
    import asyncio

    from stream_processors.intake import BatchChannel

    app = _faust_app()
    consumer = app.consumer
    channel = BatchChannel(app, maxsize=1)
    # keep the subscriber: Faust holds a channel's subscribers weakly, and a collected one
    # would make every put a no-op (the test then passed or failed with the garbage collector)
    subscriber = channel.clone(is_iterator=True)
    queue = subscriber.queue
    await channel.put("earlier batch")
    tp, messages = _tp_messages(range(7, 9))
    hand_over = asyncio.ensure_future(consumer._hand_over(tp, messages, channel))
    await asyncio.sleep(0.05)
    consumer.stop_flow()  # a rebalance starts while the put waits
    await asyncio.sleep(0.05)
    # Faust's own loop returns here with the record dropped, trusting a seek back that does not
    # happen for a partition with no committed offset yet.
    assert not hand_over.done()
    assert await queue.get() == "earlier batch"  # the agent takes the next batch
    await asyncio.wait_for(hand_over, 5)
    assert [m.offset for m in queue.get_nowait().messages] == [7, 8]
