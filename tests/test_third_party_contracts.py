"""One contract test per third-party private internal LabStream relies on (docs/architecture.md).

Each fails when an upgrade renames or drops the internal, instead of the code that uses it
degrading quietly (a fetch wait back at its default, a freeze that no longer freezes).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect

import aiokafka
import faust
import pytest
from kafka.producer import kafka as kafka_producer
from kafka.producer import record_accumulator, sender
from prometheus_client import CollectorRegistry, Histogram

from foundation.settings import Settings
from stream_processors.app import faust_settings


def _source(obj: object) -> str:
    return inspect.getsource(obj)  # type: ignore[arg-type]


async def test_aiokafka_passes_its_private_fetch_wait_to_the_fetcher() -> None:
    # stream_processors/intake.py BatchConsumerThread sets consumer._fetch_max_wait_ms before start()
    consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=123)
    assert consumer._fetch_max_wait_ms == 123  # noqa: SLF001
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in _source(aiokafka.AIOKafkaConsumer.start)


def test_faust_consumer_thread_builds_its_consumer_in_the_method_we_override() -> None:
    # stream_processors/intake.py BatchConsumer._new_consumer_thread, BatchConsumerThread
    from faust.transport.consumer import ThreadDelegateConsumer
    from faust.transport.drivers import aiokafka as faust_aiokafka

    params = inspect.signature(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer).parameters
    assert list(params) == ["self", "transport"]
    assert "return self._create_worker_consumer(transport)" in _source(
        faust_aiokafka.AIOKafkaConsumerThread._create_consumer
    )
    assert list(inspect.signature(faust_aiokafka.Consumer._new_consumer_thread).parameters) == ["self"]
    assert "self._thread = self._new_consumer_thread()" in _source(ThreadDelegateConsumer.__init__)


# sha256 of faust-streaming 0.15.3's Consumer._drain_messages, the loop BatchConsumer._drain_messages
# copies: an upgrade that changes Faust's loop fails here, so the copy is read against it again.
_FAUST_DRAIN_MESSAGES_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_faust_fetch_loop_is_the_one_our_copy_was_made_from() -> None:
    # stream_processors/intake.py BatchConsumer._drain_messages (a copy, batching added)
    from faust.transport.consumer import Consumer

    source = _source(Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == _FAUST_DRAIN_MESSAGES_SHA256
    assert list(inspect.signature(Consumer._drain_messages).parameters) == ["self", "fetcher"]
    # the consumer internals the copy reads and writes, as Faust's own loop does
    for used in (
        "self._read_offset.__getitem__",
        "self._read_offset.__setitem__",
        "commit_every = self._commit_every",
        "await self._add_gap(tp, r_offset + 1, offset)",
        "if self._n_acked >= commit_every:",
        "self._n_acked = 0",
        "callback(message), self.suspend_flow.wait()",
        "except self.consumer_stopped_errors:",
    ):
        assert used in source, used
    assert list(inspect.signature(Consumer._add_gap).parameters) == ["self", "tp", "offset_from", "offset_to"]


def test_faust_consumer_pauses_a_partition_through_buffered_partitions() -> None:
    # stream_processors/intake.py BatchConsumer._feed: a partition revoked while its backlog waited
    from faust.transport.consumer import Consumer

    assert "self._buffered_partitions.add(tp)" in _source(Consumer.on_buffer_full)
    assert "buffered_partitions.discard(tp)" in _source(Consumer.on_buffer_drop)
    assert "tp in self._buffered_partitions" in _source(Consumer)


def test_faust_app_builds_its_transport_in_the_method_we_override() -> None:
    # stream_processors/intake.py BatchApp._new_transport -> BatchTransport (its Consumer class)
    from faust.transport.drivers import aiokafka as faust_aiokafka

    assert list(inspect.signature(faust.App._new_transport).parameters) == ["self"]
    assert "self._transport = self._new_transport()" in _source(faust.App)
    assert faust_aiokafka.Transport.Consumer is faust_aiokafka.Consumer


def _app() -> faust.App:
    return faust.App("contract-test", **faust_settings(Settings(bootstrap_servers="127.0.0.1:1")))


async def test_faust_channel_clones_take_the_queue_given_and_a_put_reaches_the_reading_ones() -> None:
    # stream_processors/intake.py BatchChannel: public API only (clone(queue=...), put), but what
    # BatchChannel.full() assumes: a put goes to every reading clone (is_iterator) and no other
    app = _app()
    app.flow_control.resume()  # a started worker's state; Faust starts it suspended
    channel = faust.Channel(app, maxsize=2)
    given = app.FlowControlQueue(maxsize=2, clear_on_resume=False)
    reader = channel.clone(is_iterator=True, queue=given)
    assert reader.queue is given
    middle = channel.clone(is_iterator=False)  # what an agent keeps (its channel_iterator)
    reader_of_middle = middle.clone(is_iterator=True)  # what its stream reads
    await asyncio.wait_for(channel.put("batch"), 1)
    assert (given.qsize(), reader_of_middle.queue.qsize(), middle.queue.qsize()) == (1, 1, 0)


def test_faust_tables_pick_the_key_serializer_in_the_method_we_override() -> None:
    # stream_processors/intake.py RawKeyTable
    from faust.tables.base import Collection

    params = inspect.signature(faust.Table._serializer_from_type).parameters
    assert list(params) == ["self", "typ"]
    assert "self.key_serializer = self._serializer_from_type(self.key_type)" in _source(Collection.__init__)


def test_faust_web_mounts_production_blueprints_from_the_class_attribute() -> None:
    # stream_processors/web.py WorkerWeb: public API (Web.production_blueprints, the web driver
    # registry), but the worker's web server must still be ours and drop the index
    from faust.web.base import PRODUCTION_BLUEPRINTS, Web

    from stream_processors.web import WorkerWeb

    assert any("production_index" in str(bp) for _, bp in PRODUCTION_BLUEPRINTS)
    assert Web.production_blueprints == PRODUCTION_BLUEPRINTS
    assert "candidates.extend(self.production_blueprints)" in _source(Web._enabled_blueprints)
    app = _app()
    assert type(app.web) is WorkerWeb
    bare = faust.App("contract-test-bare", broker="kafka://127.0.0.1:1", web_stats_enabled=False)
    assert type(bare.web) is not WorkerWeb  # Faust's own: the index that WorkerWeb drops
    assert any("production_index" in str(bp) for _, bp in bare.web._enabled_blueprints())  # noqa: SLF001
    assert not any("production_index" in str(bp) for _, bp in app.web._enabled_blueprints())  # noqa: SLF001


def test_kafka_python_producer_internals_that_freeze_uses() -> None:
    # producers/delivery.py freeze: _accumulator.muted, its delivery_timeout_ms, _sender.wakeup
    init = _source(kafka_producer.KafkaProducer.__init__)
    assert "self._accumulator = RecordAccumulator(" in init and "self._sender = Sender(" in init
    assert "self.muted = set()" in _source(record_accumulator.RecordAccumulator.__init__)
    assert "delivery_timeout_ms" in record_accumulator.RecordAccumulator.DEFAULT_CONFIG
    assert "tp in self.muted" in _source(record_accumulator.RecordAccumulator)
    assert callable(sender.Sender.wakeup)
    from kafka.client_async import KafkaClient  # producers/delivery.py broker_supports_idempotence
    from kafka.protocol.init_producer_id import InitProducerIdRequest

    assert KafkaClient and InitProducerIdRequest


def test_kafka_python_failed_produce_defect_that_make_producer_mends() -> None:
    # producers/delivery.py _mend_failed_produce: replaces the sender's _failed_produce, which in
    # 2.3.x passes the exception instance where _fail_batch calls an error class. Once an upgrade
    # fixes it (kafka-python 3 has _complete_batch_with_exception), drop the repair.
    failed = _source(sender.Sender._failed_produce)
    assert "self._complete_batch(batch, PartitionResponse(error=error))" in failed
    assert "partition_response.error(partition_response.error_message)" in _source(sender.Sender._fail_batch)
    assert "self._failed_produce, batches, node_id" in _source(sender.Sender)
    assert {"error", "error_message"} <= set(sender.PartitionResponse._fields)


# kafka-python 2.3.3's Sender._maybe_wait_for_producer_id, which producers/delivery.py replaces
_KAFKA_PYTHON_WAIT_FOR_PRODUCER_ID_SHA256 = "51e05ec32bc90d5a7e81ebc2494de787113c4bde412bed243302c37b6f60a695"


def test_kafka_python_producer_id_wait_that_make_producer_bounds() -> None:
    # producers/delivery.py _bound_producer_id_wait: replaces an idempotent sender's
    # _maybe_wait_for_producer_id (an unbounded loop while Kafka is away, during which no batch
    # expires) by one bounded try of the same loop body (_init_producer_id_once) and the sender's
    # own batch expiry. An upgrade that changes the loop fails here: compare, then drop or redo.
    from kafka.producer import transaction_manager

    wait = _source(sender.Sender._maybe_wait_for_producer_id)
    assert hashlib.sha256(wait.encode()).hexdigest() == _KAFKA_PYTHON_WAIT_FOR_PRODUCER_ID_SHA256
    assert "while not self._transaction_manager.has_producer_id():" in wait  # the defect itself
    run_once = _source(sender.Sender.run_once)
    assert "self._maybe_wait_for_producer_id()" in run_once
    assert "not self._transaction_manager.has_producer_id()" in run_once  # then it sends nothing
    send_data = _source(sender.Sender._send_producer_data)  # the expiry _expire_batches repeats
    for used in (
        "self._accumulator.reset_next_batch_expiry_time()",
        "self._accumulator.expired_batches(now=now)",
        "self._get_expired_inflight_batches(now=now)",
        "self._fail_batch(expired_batch, PartitionResponse(error=Errors.KafkaTimeoutError",
    ):
        assert used in send_data, used
    init = _source(sender.Sender.__init__)
    assert "self._client = client" in init and "self._metadata = client.cluster" in init
    assert "self._transaction_manager = self.config['transaction_manager']" in init
    assert {"request_timeout_ms", "transactional_id", "transaction_timeout_ms", "retry_backoff_ms"} <= set(
        sender.Sender.DEFAULT_CONFIG
    )
    from kafka.producer.producer_batch import ProducerBatch

    batch_init = _source(ProducerBatch.__init__)  # what _expire_batches reads of a batch
    assert "self.topic_partition = tp" in batch_init and "self.created = now" in batch_init
    assert isinstance(getattr(ProducerBatch, "record_count", None), property)
    manager = transaction_manager.TransactionManager
    for method in (
        "has_producer_id",
        "is_transactional",
        "set_producer_id_and_epoch",
        "transition_to_fatal_error",
    ):
        assert callable(getattr(manager, method)), method
    assert list(inspect.signature(transaction_manager.ProducerIdAndEpoch).parameters) == [
        "producer_id",
        "epoch",
    ]


@pytest.mark.parametrize("labels", [(), ("agent",)])
def test_prometheus_histogram_fields_that_observe_many_writes(labels: tuple[str, ...]) -> None:
    # stream_processors/metrics.py observe_many
    h = Histogram("contract_seconds", "contract", labels, registry=CollectorRegistry())
    child = h.labels(agent="a") if labels else h
    assert list(child._upper_bounds)[-1] == float("inf")  # noqa: SLF001
    assert len(child._buckets) == len(child._upper_bounds)  # noqa: SLF001
    child._sum.inc(1.5)  # noqa: SLF001
    assert child._sum.get() == 1.5  # noqa: SLF001
    if labels:
        with pytest.raises(ValueError):
            h._raise_if_not_observable()  # noqa: SLF001 - a labelled parent cannot be observed
    else:
        h._raise_if_not_observable()  # noqa: SLF001


def test_producer_metadata_wait_that_known_changelogs_uses() -> None:
    # stream_processors/intake.py wait_for_changelogs: Faust's producer's aiokafka client, and the
    # metadata wait aiokafka's own send awaits for a topic it does not know yet
    from aiokafka.client import AIOKafkaClient
    from aiokafka.cluster import ClusterMetadata
    from faust.transport.drivers import aiokafka as faust_aiokafka

    assert list(inspect.signature(faust_aiokafka.Producer._ensure_producer).parameters) == ["self"]
    assert inspect.iscoroutinefunction(AIOKafkaClient._wait_on_metadata)  # noqa: SLF001
    assert list(inspect.signature(AIOKafkaClient._wait_on_metadata).parameters) == ["self", "topic"]  # noqa: SLF001
    assert "await self.client._wait_on_metadata(topic)" in _source(aiokafka.AIOKafkaProducer.send)
    assert callable(ClusterMetadata.partitions_for_topic)
