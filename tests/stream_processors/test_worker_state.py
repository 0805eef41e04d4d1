"""No model, no silent stand-in; idle sessions and streaks are forgotten (issue 14)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from labstream.runtime import create_worker
from stream_processors.app import Worker
from stream_processors.expiry import raw_partition
from tests.fixtures.kafka import consume_all, worker_env
from tests.stream_processors.test_worker_agents import _acked, _batch, _command, worker  # noqa: F401


@pytest.mark.parametrize("pointer", [None, ""])
def test_production_refuses_to_start_without_a_promoted_model(tmp_path: Path, pointer: str | None) -> None:
    models = tmp_path / "models"
    if pointer is not None:
        models.mkdir()
        (models / "CURRENT").write_text(pointer)
    s = Settings(
        bootstrap_servers="127.0.0.1:1",
        model_dir=models,
        data_dir=tmp_path,
        environment="production",
        model_signing_key="s" * 32,  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigurationError, match="labstream model train"):
        create_worker(s, CollectorRegistry())
    assert not (models / "versions").exists()  # nothing trained behind the operator's back


def test_development_keeps_the_synthetic_model_with_a_loud_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = Settings(bootstrap_servers="127.0.0.1:1", model_dir=tmp_path / "models", data_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="labstream.runtime"):
        w = create_worker(s, CollectorRegistry())
    assert w.model_registry.metadata(w.model.detector.version)["data"]["synthetic"] is True
    [warning] = [r for r in caplog.records if "NO PROMOTED MODEL" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "labstream model train" in warning.getMessage()


def test_the_worker_command_exits_naming_the_command_to_run(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(model_dir=tmp_path / "empty-models")
    env = worker_env(settings) | {
        "LABSTREAM_ENVIRONMENT": "production",
        "LABSTREAM_MODEL_SIGNING_KEY": "s" * 32,
        "LABSTREAM_PSEUDONYM_KEY": "p" * 32,
    }
    done = subprocess.run(
        [sys.executable, "-m", "labstream.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "no promoted anomaly model" in done.stderr + done.stdout
    assert "labstream model train" in done.stderr + done.stdout


def test_key_partition_is_the_one_kafka_clients_pick(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(partitions=4)
    topic = settings.topics.lab_events
    keys = [f"sess-{i}" for i in range(40)]
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    try:
        got = {k: producer.send(topic, key=k.encode(), value=b"{}").get(30).partition for k in keys}
    finally:
        producer.close(5)
    assert got == {k: raw_partition(k.encode(), 4) for k in keys}
    assert len(set(got.values())) > 1


async def test_idle_sessions_are_deleted_with_a_tombstone(worker: Worker) -> None:  # noqa: F811
    t = worker.settings.topics
    agent = worker.app.agents["labstream.commands"]
    batch = _batch(
        worker, t.lab_events, [(b"s-9", _command(i, c)) for i, c in enumerate(["enable", "conf t"])]
    )
    async with agent.test_context() as ctx:
        await ctx.put(batch)
        assert await _acked(batch)
    assert worker.sessions["s-9"]["modes"] == ["config"]
    from stream_processors.expiry import expire_idle

    idle = worker.settings.state_idle_s
    assert expire_idle(worker.sessions, now=time.time() + idle / 2, idle_s=idle, owned=lambda k: True) == 0
    assert expire_idle(worker.sessions, now=time.time() + idle + 1, idle_s=idle, owned=lambda k: True) == 1
    assert worker.sessions.get("s-9") is None
    changelog = worker.sessions.changelog_topic.get_topic_name()
    got = await consume_all(
        worker.settings.bootstrap_servers or "",
        [changelog],
        until=lambda g: any(m.value is None for m in g[changelog]),
        timeout=20,
    )
    assert got[changelog][-1].value is None  # the session's last word in its changelog: a tombstone
    # co-partitioned with the session's commands: the changelog key is the input key's bytes
    assert {m.key for m in got[changelog]} == {b"s-9"}
    assert {m.partition for m in got[changelog]} == {raw_partition(b"s-9", worker.settings.partitions)}
    # and it goes to the partition the worker judges ownership by
    owned = worker._owned(
        worker.sessions,
        [type("TP", (), {"topic": changelog, "partition": p})() for p in [got[changelog][-1].partition]],
    )
    assert owned("s-9")
