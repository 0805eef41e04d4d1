"""`labstream broker --kind kafka`: the pinned Apache Kafka on loopback; data kept, errors one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from labstream.kafka_cluster import kafka_version, topic_replication
from producers.delivery import broker_supports_idempotence

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "labstream.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env |= {"LABSTREAM_DATA_DIR": str(tmp_path / "data")}
    return env | extra


def _path_with_only(tmp_path: Path, tools: list[str]) -> str:
    """A PATH holding only ``tools`` (symlinked from the real PATH)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for tool in tools:
        real = shutil.which(tool)
        assert real is not None, f"{tool} is needed on PATH for this test"
        (d / tool).symlink_to(real)
    return str(d)


@pytest.mark.parametrize(("present", "missing"), [([], "java"), (["java"], "mvn")])
def test_missing_java_or_maven_is_one_clear_error_line(
    tmp_path: Path, present: list[str], missing: str
) -> None:
    env = _env(
        tmp_path, PATH=_path_with_only(tmp_path, present), LABSTREAM_KAFKA_JARS_DIR=str(tmp_path / "jars")
    )
    proc = _cli("broker", "--kind", "kafka", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"`{missing}` not found" in lines[0]
    assert "Traceback" not in err and out == ""


def _java_children(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "kafka.Kafka" in " ".join(p.cmdline())]


def _gone(procs: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)


def test_three_node_cluster_replicates_stops_on_ctrl_c_and_keeps_its_data(tmp_path: Path) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    env = _env(tmp_path, LABSTREAM_TOPIC_ALERTS="kept-alerts")
    broker = _cli("broker", "--kind", "kafka", "--nodes", "3", env=env)
    try:
        assert broker.stdout is not None
        bootstrap = broker.stdout.readline().strip()
        assert bootstrap.count(",") == 2, broker.stderr.read() if broker.poll() is not None else bootstrap
        nodes = _java_children(broker.pid)
        assert len(nodes) == 3
        assert (
            f"Apache Kafka {kafka_version()}, 3 node(s)"
            in broker.stderr.readline() + broker.stderr.readline()
        )
        # the collector's idempotence probe is the first InitProducerId of this fresh cluster: Kafka
        # answers it COORDINATOR_LOAD_IN_PROGRESS, which must be asked again, not read as "no"
        assert broker_supports_idempotence(bootstrap.split(","))

        # labstream topics: RF min(3, brokers) = 3, min.insync.replicas 2
        topics = subprocess.run(
            [sys.executable, "-m", "labstream.cli", "topics"],
            env=env | {"LABSTREAM_BOOTSTRAP_SERVERS": bootstrap},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert topics.returncode == 0, topics.stderr
        assert "replication factor 3, min.insync.replicas 2" in topics.stderr
        assert topic_replication(bootstrap, "kept-alerts") == ({3}, "2")

        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        for i in range(50):
            producer.send("kept-alerts", key=b"k", value=f"{i}".encode())
        producer.flush(60)
        producer.close()

        broker.send_signal(signal.SIGINT)  # Ctrl-C
        assert broker.wait(90) == 0
        psutil.wait_procs(nodes, timeout=30)
        assert _gone(nodes), "a Kafka node outlived Ctrl-C"
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait(30)

    again = _cli("broker", "--kind", "kafka", "--nodes", "3", env=env)
    try:
        assert again.stdout is not None
        assert again.stdout.readline().strip() == bootstrap  # same data dir: same ports, same cluster
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=20000
        )
        consumer.assign([TopicPartition("kept-alerts", p) for p in range(2)])
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 50 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got += [r.value for r in records]
        consumer.close()
        assert got == [f"{i}".encode() for i in range(50)]  # one key: one partition, in order
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(90)


def test_the_proxied_listener_advertises_the_proxy_and_a_cut_takes_kafka_away(broker, proxied_broker) -> None:
    """A client that bootstraps through the proxy is told the proxy's address (so a cut takes Kafka
    away from it); the direct listener keeps answering with its own."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    def advertised(bootstrap: str) -> set[int]:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            return {int(b["port"]) for b in admin.describe_cluster()["brokers"]}
        finally:
            admin.close()

    assert advertised(proxied_broker.bootstrap) == {proxied_broker.port}
    assert advertised(broker.bootstrap) == {broker.port(1)}
    proxied_broker.cut()
    with pytest.raises(KafkaError):
        advertised(proxied_broker.bootstrap)
    assert advertised(broker.bootstrap) == {broker.port(1)}
    proxied_broker.restore()
    assert advertised(proxied_broker.bootstrap) == {proxied_broker.port}


def test_a_proxied_listener_is_for_one_node(tmp_path: Path) -> None:
    from labstream.kafka_cluster import KafkaCluster

    with pytest.raises(ValueError, match="one-node"):
        KafkaCluster(tmp_path, nodes=3, proxied=(1, 2))
