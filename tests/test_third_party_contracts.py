"""One contract test per third-party private internal LabStream relies on (docs/architecture.md).

Each fails when an upgrade renames or drops the internal, instead of the code that uses it
degrading quietly (a fetch wait back at its default, a freeze that no longer freezes).
"""

from __future__ import annotations

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
    # stream_processors/batching.py BatchConsumerThread sets consumer._fetch_max_wait_ms before start()
    consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=123)
    assert consumer._fetch_max_wait_ms == 123  # noqa: SLF001
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in _source(aiokafka.AIOKafkaConsumer.start)


def test_faust_consumer_thread_builds_its_consumer_in_the_method_we_override() -> None:
    from faust.transport.drivers import aiokafka as faust_aiokafka

    params = inspect.signature(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer).parameters
    assert list(params) == ["self", "transport"]


def _app() -> faust.App:
    return faust.App("contract-test", **faust_settings(Settings(bootstrap_servers="127.0.0.1:1")))


def test_faust_channels_fan_out_through_root_and_subscribers() -> None:
    # stream_processors/batching.py _full: a put waits when a subscriber's queue is full
    channel = _app().channel()
    assert channel._root is None and channel._subscribers is not None  # noqa: SLF001
    clone = channel.clone(is_iterator=True)
    assert clone._root is channel and clone in channel._subscribers  # noqa: SLF001


def test_faust_tables_pick_the_key_serializer_in_the_method_we_override() -> None:
    # stream_processors/app.py RawKeyTable
    params = inspect.signature(faust.Table._serializer_from_type).parameters
    assert list(params) == ["self", "typ"]


def test_faust_blueprint_manager_keeps_its_blueprints_in_enabled() -> None:
    # stream_processors/web.py _drop_production_index
    app = _app()
    enabled = app.web.blueprints._enabled  # noqa: SLF001
    assert isinstance(enabled, list) and all(len(item) == 2 for item in enabled)
    assert any("production_index" in str(bp) for _, bp in enabled)


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
    # stream_processors/app.py Worker._known_changelogs: Faust's producer's aiokafka client, and the
    # metadata wait aiokafka's own send awaits for a topic it does not know yet
    from aiokafka.client import AIOKafkaClient
    from aiokafka.cluster import ClusterMetadata
    from faust.transport.drivers import aiokafka as faust_aiokafka

    assert list(inspect.signature(faust_aiokafka.Producer._ensure_producer).parameters) == ["self"]
    assert inspect.iscoroutinefunction(AIOKafkaClient._wait_on_metadata)  # noqa: SLF001
    assert list(inspect.signature(AIOKafkaClient._wait_on_metadata).parameters) == ["self", "topic"]  # noqa: SLF001
    assert "await self.client._wait_on_metadata(topic)" in _source(aiokafka.AIOKafkaProducer.send)
    assert callable(ClusterMetadata.partitions_for_topic)
