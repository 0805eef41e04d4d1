"""The worker's intake: every place it touches Faust's or aiokafka's internals, in this one module.

What the rest of the worker sees is public: :class:`BatchApp` (a ``faust.App`` with
:meth:`~BatchApp.route_batches`), :class:`BatchChannel`, :class:`Batch` (``begin``/``ack``),
:class:`RawKeyTable` and :func:`wait_for_changelogs`. Each third-party internal used below has a
contract test in ``tests/test_third_party_contracts.py`` that fails when an upgrade changes it
(the table in ``docs/architecture.md`` lists them); ``faust-streaming`` and ``aiokafka`` are pinned
exactly in ``pyproject.toml``. Where Faust has a public way, it is used: an agent's queue comes
through ``Channel.clone(queue=...)`` (``Channel(queue=...)``), and the worker's web server drops
Faust's index through ``Web.production_blueprints`` (``stream_processors/web.py``).

Whole fetched batches, instead of Faust's one-event-at-a-time path: the
consumer's fetch loop hands each partition's records of a fetch to the agent's
channel as one :class:`Batch` (one queue put per batch), for the topics
registered with :meth:`BatchApp.route_batches`. Everything else (table
changelogs, other topics) keeps Faust's own per-message path. Faust's per-event
path (``wait_first`` on two tasks, an ``Event`` queued and taken back out per
record) was the wall in a profile of the worker (py-spy).

Faust's guarantees are kept explicitly:

- a batch's messages are tracked as unacked when the agent starts on it and
  acked (:meth:`Batch.ack`) only after its outputs are delivered, so the
  commit never passes an event whose outputs are not in Kafka, and a
  rebalance waits for the batch in hand (``stream_wait_empty``);
- a batch fetched in an earlier consumer generation, or taken during a
  rebalance, is still processed (see :meth:`Batch.begin`): a partition that
  stays with this worker is not re-read, so dropping it would lose events;
- flow control and producer back-pressure are honoured per batch, and
  Faust's gap tracking and ``broker_commit_every`` per message;
- a fetched batch is never dropped on the way to its agent: the agents'
  channels (:class:`BatchChannel`) are not cleared when Faust resumes flow
  after a rebalance, and a put is never raced against a flow suspension;
- agents do not hold each other up: one fetch loop feeds every agent, so a
  full agent queue (a saturated code agent) must not stop it. A batch for a
  full queue waits in its partition's backlog, handed over in order by a
  task of its own, and the partition is not fetched while its backlog is
  long (Faust's own per-partition back-pressure, ``on_buffer_full``); the
  other topics keep flowing (see :meth:`BatchConsumer._dispatch`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger(__name__)

MAX_BACKLOG = 2  # batches of one partition waiting for a full agent queue before its fetching pauses


class Batch:
    """The records of one partition from one fetch, in offset order."""

    __slots__ = ("consumer", "messages")

    def __init__(self, consumer: Any, messages: list[Any]) -> None:
        self.consumer = consumer
        self.messages = messages

    def begin(self) -> None:
        """Track the messages as in progress, so no commit passes them until :meth:`ack`.

        Every batch is processed, whichever consumer generation fetched it: a partition that stays
        with this worker across a rebalance is not sought back, so a dropped batch would be skipped
        for good; under at-least-once a moved partition's new owner at worst processes it again,
        with the same ids (``tests/stream_processors/test_worker_agents.py``).
        """
        track = self.consumer.track_message
        for m in self.messages:
            m.tracked = True
            track(m)

    def ack(self) -> None:
        """Mark every message done: call only once its outputs are delivered."""
        ack = self.consumer.ack
        for m in self.messages:
            ack(m)


class BatchConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, delivering routed topics in batches.

    Faust has no public hook for this, so this is where the worker relies on Faust's consumer
    internals: ``_drain_messages`` is a copy of faust-streaming 0.15.3's fetch loop (batching
    added, gaps not recorded for routed topics), reading and writing ``_read_offset``, ``_add_gap``,
    ``_commit_every`` and ``_n_acked`` as Faust's loop does; ``_new_consumer_thread`` builds
    :class:`BatchConsumerThread`; a partition's backlog pauses its fetching through the public
    ``on_buffer_full``/``on_buffer_drop`` and, for a partition revoked meanwhile,
    ``_buffered_partitions``.
    """

    _backlogs: dict[Any, deque[list[Any]]]
    _feeders: dict[Any, asyncio.Task[None]]

    def _new_consumer_thread(self) -> Any:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's fetcher task
        routes: dict[str, tuple[Any, int]] = getattr(self.app, "batch_routes", {})
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        try:
            while not (self.should_stop or fetcher.should_stop):
                pending: dict[Any, list[Any]] = {}
                await self.sleep(0)
                if self.should_stop:
                    break
                async for tp, message in self.getmany(timeout=1.0):
                    offset = message.offset
                    r_offset = read_offset[tp]
                    if r_offset is not None and offset < r_offset:
                        continue  # already delivered: Faust drops these too
                    route = routes.get(tp.topic)
                    # Faust marks skipped offsets as a "gap" that counts as acked (for compacted and
                    # transactional topics). LabStream's input topics are neither, and records of a
                    # fetch already under way arrive after a rebalance reset the read offset to the
                    # committed one: their "gap" let the commit pass records never processed
                    # (events lost after a kill -9 in tests/chaos). So no gaps for routed topics.
                    if route is None and r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                    read_offset[tp] = offset
                    if route is None:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        continue
                    batch = pending.setdefault(tp, [])
                    batch.append(message)
                    if len(batch) >= route[1]:
                        await self._dispatch(tp, pending.pop(tp), route[0])
                for tp, messages in pending.items():
                    await self._dispatch(tp, messages, routes[tp.topic][0])
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            # Faust's own loop ignores a cancel while the app stops, and so does this one: a SIGTERM
            # ends with exit status 0, not "Crashed reason=CancelledError" (bench.chaos.rebalance).
            if self.transport.app.should_stop:
                return
            raise

    async def _dispatch(self, tp: Any, messages: list[Any], channel: Any) -> None:
        """Hand one batch to its agent without letting a full agent queue stop the fetch loop.

        With nothing waiting for the partition and room in the agent's queue, the batch is handed
        over here (:meth:`_hand_over`, which may still wait for flow control and the producer
        buffer, as before). Otherwise it joins the partition's backlog, which a task of its own
        hands over in offset order; while the backlog holds :data:`MAX_BACKLOG` batches or more the
        partition is not fetched (``on_buffer_full``), and fetching resumes once it is empty
        (``on_buffer_drop``). A backlog batch is like one in the agent's queue: not yet tracked nor
        acked, so the commit never passes it, and it is processed whatever a rebalance does (see
        :meth:`Batch.begin`). Before this, one slow code batch held the one fetch loop, and with it
        every metrics batch and alert (issue 14).
        """
        tp = TP(tp.topic, tp.partition)  # aiokafka's TopicPartition: Faust's partition sets hold its own TP
        backlogs = self.__dict__.setdefault("_backlogs", {})
        backlog = backlogs.get(tp)
        if backlog is None and not channel.full():
            await self._hand_over(tp, messages, channel)
            return
        if backlog is None:
            backlog = backlogs[tp] = deque()
            feeders = self.__dict__.setdefault("_feeders", {})
            feeders[tp] = asyncio.ensure_future(self._feed(tp, backlog, channel))
        backlog.append(messages)
        if len(backlog) >= MAX_BACKLOG:
            self.on_buffer_full(tp)

    async def _feed(self, tp: Any, backlog: deque[list[Any]], channel: Any) -> None:
        """Hand a partition's backlog to its agent, in order; then let the partition be fetched again."""
        try:
            while backlog:
                await self._hand_over(tp, backlog[0], channel)
                backlog.popleft()
        except asyncio.CancelledError:
            raise  # the worker stops: the batches were never acked, so they are read again
        except Exception as e:  # pragma: no cover - a bug: stop rather than skip the batches
            log.exception("handing over the backlog of %s[%d] failed", tp.topic, tp.partition)
            await self.app.crash(e)
            raise
        finally:
            self._backlogs.pop(tp, None)  # when cancelled (the worker stops) what is left is re-read
            self._feeders.pop(tp, None)
        if tp in self.assignment():
            self.on_buffer_drop(tp)  # fetch it again
        else:  # revoked meanwhile: fetching it again would ask for a partition that is not ours
            self._buffered_partitions.discard(tp)

    async def _hand_over(self, tp: Any, messages: list[Any], channel: Any) -> None:
        """Queue one batch for its agent, waiting on flow control and producer back-pressure.

        Returns only once the batch is in the agent's queue. Faust's own drain loop races the put
        against ``suspend_flow`` and drops the record when the flow is suspended, relying on the
        seek to the committed offset after the rebalance. That seek does nothing for a partition
        with no committed offset yet, so a dropped batch would be lost for good, and a later batch's
        ack would commit past it. Here a batch is never dropped: during a rebalance the put waits for
        the flow to resume, and the batch is processed then (at worst a second time by the new
        owner of a moved partition: at-least-once).
        """
        app = self.app
        await app.flow_control.acquire()
        await app.producer.buffer.wait_until_ebb()
        batch = Batch(self, messages)
        while True:
            try:
                await channel.put(batch)
                return
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling() or self.should_stop:
                    raise  # this task is being cancelled (the worker stops): not a lost put
                # The queue was cleared under a waiting put (a Faust queue managed by flow control):
                # the batch is not queued yet, so queue it again rather than lose it.
                log.warning(
                    "batch %s[%d] @%d: put cancelled by a queue clear, queueing again",
                    tp.topic,
                    tp.partition,
                    messages[0].offset,
                )


class BatchChannel(faust.Channel):
    """A channel whose queues are not cleared when Faust resumes flow after a rebalance.

    Faust creates a channel's queues with ``clear_on_resume=True``: at the end of each recovery
    ``flow_control.resume()`` empties them and cancels a waiting ``put``. For Faust's own per-event
    path the cleared events are re-read from the committed offset. For batches it lost events twice
    over (``tests/integration/test_batch_crash.py``): the queued batches of a partition with no
    committed offset yet were never re-read, and the cancelled put ended Faust's fetcher task
    without a word, so the worker stopped consuming altogether. Batches queued here are processed
    whatever the rebalance; they are acked only after their outputs are delivered, so the commit
    never passes them.

    An agent reads a clone of a clone of its channel, never the channel itself, so every clone is
    given its queue through Faust's public ``clone(queue=...)`` (which builds the clone with
    ``Channel(queue=...)``). The clones that read (``is_iterator``, Faust's subscribers) are
    remembered, weakly as Faust does, so :meth:`full` can tell whether a put would wait.
    """

    def clone(self, *, is_iterator: bool | None = None, **kwargs: Any) -> Any:
        maxsize = kwargs.get("maxsize", self.maxsize)
        if maxsize is None:
            maxsize = self.app.conf.stream_buffer_maxsize
        kwargs.setdefault("queue", self.app.FlowControlQueue(maxsize=maxsize, clear_on_resume=False))
        clone: Any = super().clone(is_iterator=is_iterator, **kwargs)
        readers = self._readers()
        clone.__dict__["_labstream_readers"] = readers  # one set for a channel and all its clones
        if clone.is_iterator:
            readers.add(clone)
        return clone

    def _readers(self) -> weakref.WeakSet[Any]:
        readers: weakref.WeakSet[Any] = self.__dict__.setdefault("_labstream_readers", weakref.WeakSet())
        return readers

    def full(self) -> bool:
        """Whether a ``put`` would wait: one of the queues it puts into (its readers') is full."""
        return any(reader.queue.full() for reader in self._readers())


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with a configurable fetch wait.

    Faust hard-codes ``fetch_max_wait_ms=1500``. The embedded broker (tansu) holds a fetch for
    about that long even when records are waiting, which put ~0.4-1 s on every event's latency
    (measured: p50 361 ms at 1,500 ms, 14 ms at 50 ms). aiokafka reads the value at ``start()``.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)  # noqa: SLF001
        return consumer


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """A Faust app whose consumer can deliver routed topics as batches (see :class:`BatchConsumer`)."""

    batch_routes: dict[str, tuple[Any, int]]
    fetch_max_wait_ms: int = 1500  # set from settings by the worker (see BatchConsumerThread)

    def route_batches(self, topic: str, channel: Any, max_batch: int) -> None:
        """Deliver ``topic``'s records to ``channel`` as :class:`Batch` objects of at most ``max_batch``.

        Call before the worker starts; the topic must be subscribed (``app.topics.add(topic)``).
        """
        self.__dict__.setdefault("batch_routes", {})[topic] = (channel, max_batch)

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)


class RawKeyTable(faust.Table):
    """A Faust table whose ``str`` keys go to its changelog as their UTF-8 bytes, like the input keys.

    Faust picks a table's key serializer from ``key_type`` (``str``: JSON), not from the schema, so
    the changelog key of session ``s-9`` would be ``b'"s-9"'``: partitioned by murmur2 of other
    bytes than the input key ``b"s-9"``, so a rebalance could restore a session's state on a worker
    that never reads its commands. Raw keys co-partition state and input (read back as ``str``).
    Faust has no public setting for it: this overrides ``Collection._serializer_from_type``.
    """

    def _serializer_from_type(self, typ: Any) -> Any:
        return "raw" if typ is str else super()._serializer_from_type(typ)


async def wait_for_changelogs(app: faust.App, tables: Iterable[Any]) -> None:
    """Before table writes: the producer's metadata must know the ``tables``' changelog topics.

    Faust picks a changelog record's partition from the producer's metadata without waiting for
    it, and aiokafka's metadata refreshes fetch only the topics the producer has sent to: a refresh
    after a send to a new topic (the first exercise facts) could drop a changelog topic, and the
    next table write crashed the worker (``TypeError`` in ``key_partition``). A known topic costs
    one dict lookup; an unknown one is waited for as ``producer.send`` waits (at most 10 s), through
    Faust's producer's aiokafka client (``_ensure_producer``, ``_wait_on_metadata``: no public way).
    Tracking every changelog topic up front instead (``add_topic``) stalled the workers of the
    kill -9 test on tansu.
    """
    client = app.producer._ensure_producer().client  # type: ignore[attr-defined]  # noqa: SLF001
    for table in tables:
        name = table.changelog_topic.get_topic_name()
        if client.cluster.partitions_for_topic(name) is not None:
            continue
        try:
            async with asyncio.timeout(10.0):
                await client._wait_on_metadata(name)  # noqa: SLF001 - what producer.send itself awaits
        except (TimeoutError, KafkaError) as e:
            log.warning("changelog topic not in the producer's metadata (%s)", type(e).__name__)
