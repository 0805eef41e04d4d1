"""Apache Kafka on loopback: a KRaft cluster of 1..N nodes, each broker and controller.

The broker is the pinned ``org.apache.kafka:kafka_2.13`` of ``labstream/kafka/pom.xml``: Maven
copies its jars once into a cache dir (keyed by the pom's content, so a second start needs no
network), ``kafka.tools.StorageTool format`` formats each node's log dir under the data dir, and
``java -cp ... kafka.Kafka server.properties`` runs each node. The data dir keeps the cluster id,
the ports and every node's log dir, so a cluster started again on the same data dir has its topics,
offsets and changelogs back.

>>> with KafkaCluster(Path("/tmp/k"), nodes=3) as cluster:   # doctest: +SKIP
...     print(cluster.bootstrap)
127.0.0.1:40001,127.0.0.1:40003,127.0.0.1:40005
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from foundation.exceptions import BrokerError
from labstream.broker import _die_with_parent, _wait_for_port, free_port, wait_for_kafka
from labstream.processes import stop_process

log = logging.getLogger(__name__)

POM = Path(__file__).parent / "kafka" / "pom.xml"
MAX_MESSAGE_BYTES = 17 * 1024 * 1024  # a 16 MiB request and its batch overhead
DEFAULT_HEAP = "384m"
# Short JIT and a serial GC: a loopback node starts in a few seconds on a shared two-core machine.
_JVM_OPTS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.awt.headless=true")


def kafka_version() -> str:
    """The Kafka version pinned in ``labstream/kafka/pom.xml``."""
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text(encoding="utf-8"))
    if m is None:  # pragma: no cover - the pom is part of the package
        raise BrokerError(f"no <kafka.version> in {POM}")
    return m.group(1).strip()


def replication_for(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) LabStream uses on a cluster of ``nodes`` brokers."""
    rf = max(1, min(3, nodes))
    return rf, (rf - 1 if rf >= 2 else 1)


def default_jars_dir() -> Path:
    return Path.home() / ".cache" / "labstream" / "kafka-jars"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        what = "a Java 17+ runtime" if tool == "java" else "Apache Maven"
        raise BrokerError(
            f"`{tool}` not found on PATH: Apache Kafka needs {what} (e.g. apt-get install {tool})"
        )
    return path


def kafka_jars(jars_dir: Path | None = None) -> Path:
    """The directory of the pinned Kafka's jars, fetched through Maven on first use."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    target = (jars_dir or default_jars_dir()) / f"{kafka_version()}-{digest}"
    if (target / ".complete").exists():
        return target
    mvn = _need("mvn")
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("fetching Apache Kafka %s's jars through Maven into %s", kafka_version(), target)
    proc = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
        shutil.rmtree(tmp, ignore_errors=True)
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise BrokerError(
            f"Maven could not fetch Apache Kafka {kafka_version()} (exit {proc.returncode}): {tail}"
        )
    (tmp / ".complete").write_text(kafka_version() + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _cluster_id() -> str:
    """A random cluster id as Kafka's ``Uuid.randomUuid`` makes it: never starting with ``-``.

    One id in 64 would start with ``-`` and ``StorageTool format -t <id>`` would read it as an
    option ("argument --cluster-id/-t: expected one argument"), which failed a test run.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


_LOG4J2 = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
"""


class KafkaCluster:
    """A KRaft cluster of ``nodes`` combined broker+controller nodes on ``host``.

    Static quorum (``controller.quorum.voters``): every node is a voter, so three nodes keep a
    quorum with one of them down. Replication factor min(3, nodes), min ISR RF-1 when RF >= 2,
    for the internal topics and as the brokers' defaults.
    """

    def __init__(
        self,
        data_dir: Path,
        nodes: int = 1,
        *,
        host: str = "127.0.0.1",
        heap: str = DEFAULT_HEAP,
        jars_dir: Path | None = None,
        partitions: int = 2,
        log_level: str = "WARN",
        extra_properties: dict[str, str] | None = None,
        proxied: tuple[int, int] | None = None,
    ) -> None:
        """``proxied=(port, advertised_port)``: a second listener, ``PROXIED``, on ``port`` that
        advertises ``advertised_port``, for a TCP proxy listening there and forwarding to ``port``
        (tests cut it to take Kafka away from its clients). Clients that bootstrap through the
        proxy are told the proxy's address, so all their connections go through it; the
        ``PLAINTEXT`` listener (``bootstrap``) stays direct. One-node clusters only."""
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        if proxied is not None and nodes != 1:
            raise ValueError("a proxied listener is for one-node clusters")
        self.data_dir = Path(data_dir).resolve()
        self.nodes = nodes
        self.host = host
        self.heap = heap
        self.jars_dir = jars_dir
        self.partitions = partitions
        self.log_level = log_level
        self.extra_properties = dict(extra_properties or {})
        self.proxied = proxied
        self.replication_factor, self.min_insync = replication_for(nodes)
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._classpath: str | None = None
        self._state: dict[str, Any] = self._load_or_create_state()

    # --- layout ------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        return list(range(1, self.nodes + 1))

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    def port(self, node_id: int) -> int:
        return int(self._state["ports"][str(node_id)]["broker"])

    def controller_port(self, node_id: int) -> int:
        return int(self._state["ports"][str(node_id)]["controller"])

    def node_bootstrap(self, node_id: int) -> str:
        return f"{self.host}:{self.port(node_id)}"

    @property
    def bootstrap(self) -> str:
        return ",".join(self.node_bootstrap(n) for n in self.node_ids)

    @property
    def cluster_id(self) -> str:
        return str(self._state["cluster_id"])

    def pid(self, node_id: int) -> int | None:
        proc = self._procs.get(node_id)
        return proc.pid if proc is not None and proc.poll() is None else None

    def alive(self, node_id: int) -> bool:
        return self.pid(node_id) is not None

    def _load_or_create_state(self) -> dict[str, Any]:
        path = self.data_dir / "cluster.json"
        if path.exists():
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if int(state["nodes"]) != self.nodes:
                raise BrokerError(
                    f"{self.data_dir} holds a {state['nodes']}-node cluster, not {self.nodes}: "
                    "use another data dir"
                )
            return state
        ports = {
            str(n): {"broker": free_port(self.host), "controller": free_port(self.host)}
            for n in self.node_ids
        }
        state = {"cluster_id": _cluster_id(), "nodes": self.nodes, "ports": ports, "version": kafka_version()}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=2), encoding="utf-8")
        return state

    def properties(self, node_id: int) -> dict[str, str]:
        """The node's server.properties (KRaft, loopback, test-friendly timings)."""
        rf, min_isr = self.replication_factor, self.min_insync
        voters = ",".join(f"{n}@{self.host}:{self.controller_port(n)}" for n in self.node_ids)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{self.host}:{self.port(node_id)},"
            f"CONTROLLER://{self.host}:{self.controller_port(node_id)}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port(node_id)}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.node_dir(node_id) / "data"),
            "num.partitions": str(self.partitions),
            "default.replication.factor": str(rf),
            "min.insync.replicas": str(min_isr),
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min_isr),
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(min_isr),
            "group.initial.rebalance.delay.ms": "0",
            # LabStream's records go up to 16 MiB (the collector's max request; code submissions,
            # hostile inputs): Apache Kafka's default is 1 MiB
            "message.max.bytes": str(MAX_MESSAGE_BYTES),
            "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
            "unclean.leader.election.enable": "false",
            # light on a shared machine: few threads, small buffers and indexes
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.replica.fetchers": "1",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            "log.index.size.max.bytes": str(1024 * 1024),
            # a killed broker is fenced (and its partitions' leadership moved) within a few seconds
            "broker.session.timeout.ms": "6000",
            "broker.heartbeat.interval.ms": "1000",
        }
        if self.proxied is not None:
            port, advertised = self.proxied
            props["listeners"] += f",PROXIED://{self.host}:{port}"
            props["advertised.listeners"] += f",PROXIED://{self.host}:{advertised}"
            props["listener.security.protocol.map"] += ",PROXIED:PLAINTEXT"
        props.update(self.extra_properties)
        return props

    # --- processes -----------------------------------------------------------
    def _java(self, main: str, *args: str, node_id: int) -> list[str]:
        if self._classpath is None:
            _need("java")
            self._classpath = str(kafka_jars(self.jars_dir) / "*")
        log4j = self.node_dir(node_id) / "log4j2.properties"
        return [
            _need("java"),
            f"-Xmx{self.heap}",
            "-Xms64m",
            *_JVM_OPTS,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            self._classpath,
            main,
            *args,
        ]

    def _write_config(self, node_id: int) -> Path:
        d = self.node_dir(node_id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "log4j2.properties").write_text(
            _LOG4J2.format(path=d / "server.log", level=self.log_level), encoding="utf-8"
        )
        path = d / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.properties(node_id).items()), encoding="utf-8")
        return path

    def _format(self, node_id: int, config: Path) -> None:
        if (self.node_dir(node_id) / "data" / "meta.properties").exists():
            return
        cmd = self._java(
            "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(config), node_id=node_id
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise BrokerError(
                f"formatting Kafka node {node_id} failed: {(proc.stdout + proc.stderr).strip()[-500:]}"
            )

    def start_node(self, node_id: int) -> None:
        """Start one node (formatting its log dir the first time); returns without waiting."""
        if self.alive(node_id):
            return
        config = self._write_config(node_id)
        self._format(node_id, config)
        for port in (self.port(node_id), self.controller_port(node_id)):
            _wait_port_free(self.host, port, 15.0)
        out = (self.node_dir(node_id) / "stdout.log").open("ab")
        try:
            self._procs[node_id] = _launch(
                self._java("kafka.Kafka", str(config), node_id=node_id),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                cwd=self.node_dir(node_id),
            )
        finally:
            out.close()

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        """Start every node and wait until each answers metadata and sees all brokers."""
        try:
            for n in self.node_ids:
                self._write_config(n)
            for n in self.node_ids:
                self.start_node(n)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Apache Kafka %s ready at %s", kafka_version(), self.bootstrap)
        return self

    def wait_ready(self, timeout: float = 120.0, nodes: list[int] | None = None) -> None:
        """Block until every (given, running) node answers metadata listing all live brokers."""
        deadline = time.monotonic() + timeout
        wanted = nodes or [n for n in self.node_ids if n in self._procs]
        for n in wanted:
            self._check_running(n)
            _wait_for_port(self.host, self.port(n), max(0.1, deadline - time.monotonic()))
            wait_for_kafka(self.node_bootstrap(n), max(0.1, deadline - time.monotonic()))
        live = {n for n in self.node_ids if self.alive(n)}
        self._wait_until(
            lambda: self.registered_brokers() >= live, deadline, f"brokers {sorted(live)} to register"
        )
        # the first group join creates __consumer_offsets; do it here, so that no client's first
        # FindCoordinator meets "coordinator not available" (an ERROR line in Faust's log)
        self._wait_until(self._group_coordinator_ready, deadline, "the group coordinator")

    def _group_coordinator_ready(self) -> bool:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        try:
            admin.describe_consumer_groups(["labstream-kafka-cluster-ready"])
            return True
        finally:
            admin.close()

    def _wait_until(self, cond: Callable[[], bool], deadline: float, what: str) -> None:
        last: Exception | None = None
        while time.monotonic() < deadline:
            for n in self._procs:
                self._check_running(n)
            try:
                if cond():
                    return
            except Exception as e:  # noqa: BLE001 - retried until the deadline
                last = e
            time.sleep(0.2)
        raise BrokerError(f"Kafka at {self.bootstrap}: timed out waiting for {what} ({last!r})")

    def registered_brokers(self) -> set[int]:
        """Ids of the brokers the cluster's metadata lists now."""
        from kafka import KafkaAdminClient

        live = [n for n in self.node_ids if self.alive(n)]
        admin = KafkaAdminClient(
            bootstrap_servers=[self.node_bootstrap(n) for n in live], request_timeout_ms=5000
        )
        try:
            return {int(b["node_id"]) for b in admin.describe_cluster()["brokers"]}
        finally:
            admin.close()

    def _check_running(self, node_id: int) -> None:
        proc = self._procs.get(node_id)
        if proc is not None and proc.poll() is not None:
            tail = self.log_tail(node_id, 15)
            raise BrokerError(f"Kafka node {node_id} exited with {proc.returncode}:\n{tail}")

    def log_tail(self, node_id: int, n: int = 40) -> str:
        lines: list[str] = []
        for name in ("stdout.log", "server.log"):
            try:
                lines += (self.node_dir(node_id) / name).read_text(errors="replace").splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(lines)

    def stop_node(self, node_id: int, *, kill: bool = False, timeout: float = 60.0) -> None:
        """Stop one node: SIGTERM (controlled shutdown) or, with ``kill``, SIGKILL."""
        stop_process(self._procs.pop(node_id, None), timeout, kill=kill)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every node: SIGTERM to all at once, then wait (brokers shut down in parallel)."""
        procs, self._procs = self._procs, {}
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def topic_replication(bootstrap: str, topic: str) -> tuple[set[int], str]:
    """(replica counts of the topic's partitions, its min.insync.replicas) as the cluster reports them."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        (described,) = admin.describe_topics([topic])
        counts = {len(p["replicas"]) for p in described["partitions"]}
        (response,) = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = response.resources[0][4]
        min_isr = next(str(e[1]) for e in entries if e[0] == "min.insync.replicas")
        return counts, min_isr
    finally:
        admin.close()


_launcher: ThreadPoolExecutor | None = None
_launcher_lock = threading.Lock()


def _launch(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` from one thread that lives as long as the process.

    PR_SET_PDEATHSIG (die with the parent) fires when the *thread* that started the child exits:
    a node restarted from a short-lived thread (``asyncio.to_thread`` in a test's event loop) was
    SIGTERMed when that loop's executor shut down.
    """
    global _launcher
    with _launcher_lock:
        if _launcher is None:
            _launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-launcher")
    return _launcher.submit(lambda: subprocess.Popen(cmd, **kwargs)).result()


def _wait_port_free(host: str, port: int, timeout: float) -> None:
    """A restarted node reuses its ports: wait for the old socket to go (TIME_WAIT is fine)."""
    from labstream.broker import _port_free

    deadline = time.monotonic() + timeout
    while not _port_free(host, port):
        if time.monotonic() > deadline:
            raise BrokerError(f"port {port} on {host} is in use: another process holds this cluster's port")
        time.sleep(0.1)


if __name__ == "__main__":  # pragma: no cover - `make kafka-jars`: fetch the jars, print where
    import sys

    try:
        sys.stdout.write(f"Apache Kafka {kafka_version()}: {kafka_jars()}\n")
    except BrokerError as e:
        sys.stderr.write(f"labstream: error: {e}\n")
        sys.exit(2)
