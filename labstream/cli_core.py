"""Core subcommands: ``broker``, ``worker``, ``up``, ``alerts``, ``schemas``, ``topics``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from foundation.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="run a broker on loopback (tansu, or Apache Kafka) until Ctrl-C")
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: settings, else free)")
    p.add_argument(
        "--kind",
        choices=["tansu", "kafka"],
        default="tansu",
        help="tansu (memory only, the default) or Apache Kafka (KRaft, data under the data dir)",
    )
    p.add_argument("--nodes", type=int, default=None, help="Apache Kafka nodes (default: settings, 1)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="Apache Kafka's log dirs (default: <data dir>/kafka)"
    )
    p.set_defaults(handler=_broker)

    p = sub.add_parser("worker", help="run a stream-processing worker (Faust) until Ctrl-C")
    p.add_argument("--web-port", type=int, default=None, help="HTTP port for /health, /ready, /metrics")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="Faust's log level (info shows rebalances, assignments and commits; default warning)",
    )
    p.set_defaults(handler=_worker)

    p = sub.add_parser("up", help="broker + worker + demo traffic, printing alerts as they arrive")
    p.add_argument("--duration", type=float, default=None, help="seconds to run, then print a summary")
    p.add_argument("--rate", type=float, default=200.0, help="demo events per second (all streams)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true", help="only the summary, no alert lines")
    p.add_argument(
        "--broker",
        choices=["tansu", "kafka"],
        default=None,
        help="broker started when none is configured (default: settings, tansu)",
    )
    p.set_defaults(handler=_up)

    p = sub.add_parser("alerts", help="tail the alerts topic")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--json", action="store_true", help="raw JSON lines instead of readable text")
    p.set_defaults(handler=_alerts)

    p = sub.add_parser("schemas", help="write one JSON Schema per topic")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(handler=_schemas)

    p = sub.add_parser("topics", help="create LabStream's topics on the configured Kafka")
    p.set_defaults(handler=_topics)


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    from labstream.broker import EmbeddedBroker

    port = args.port if args.port is not None else settings.broker_port
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.kind == "kafka":
        return _kafka_broker(args, settings, stop)
    with EmbeddedBroker(port=port) as broker:
        print(broker.bootstrap, flush=True)
        print(f"export LABSTREAM_BOOTSTRAP_SERVERS={broker.bootstrap}", file=sys.stderr, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _kafka_broker(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    from foundation.exceptions import BrokerError
    from labstream.kafka_cluster import KafkaCluster, kafka_version

    nodes = args.nodes if args.nodes is not None else settings.kafka_nodes
    data_dir = args.data_dir or settings.data_dir / "kafka"
    try:
        cluster = KafkaCluster(
            data_dir, nodes=nodes, jars_dir=settings.kafka_jars_dir, partitions=settings.partitions
        )
        cluster.start()
    except BrokerError as e:
        print(f"labstream broker: {e}", file=sys.stderr)
        return 1
    try:
        print(cluster.bootstrap, flush=True)
        print(
            f"Apache Kafka {kafka_version()}, {nodes} node(s), data in {cluster.data_dir}; "
            f"export LABSTREAM_BOOTSTRAP_SERVERS={cluster.bootstrap}",
            file=sys.stderr,
            flush=True,
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    finally:
        cluster.stop()
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from labstream.runtime import broker_for, create_topics, create_worker, with_replication

    if args.web_port is not None:
        settings = settings.model_copy(update={"worker_web_port": args.web_port})
    for name in ("faust", "mode", "aiokafka"):  # quietened by main() unless asked for here
        logging.getLogger(name).setLevel(args.log_level.upper())
    with broker_for(settings) as s:
        s = with_replication(s)
        create_topics(s)
        create_worker(s).run(loglevel=args.log_level)
    return 0


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from labstream.up import run_up

    if args.broker is not None:
        settings = settings.model_copy(update={"embedded_broker": args.broker})
    return run_up(settings, duration=args.duration, rate=args.rate, seed=args.seed, quiet=args.quiet)


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from labstream.alerts import tail_alerts

    if not settings.bootstrap_list:
        print("labstream alerts: set LABSTREAM_BOOTSTRAP_SERVERS (see `labstream broker`)", file=sys.stderr)
        return 2
    try:
        asyncio.run(tail_alerts(settings, from_beginning=args.from_beginning, raw=args.json))
    except KeyboardInterrupt:
        pass
    return 0


def _schemas(args: argparse.Namespace, settings: Settings) -> int:
    from schemas import write_json_schemas

    for path in write_json_schemas(args.out):
        print(path)
    return 0


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from foundation.kafka_topics import min_insync_for
    from labstream.runtime import create_topics, with_replication

    if not settings.bootstrap_list:
        print("labstream topics: set LABSTREAM_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    settings = with_replication(settings)
    create_topics(settings)
    rf = settings.replication_factor or 1
    print(", ".join(settings.topics.all()))
    print(f"replication factor {rf}, min.insync.replicas {min_insync_for(rf)}", file=sys.stderr)
    return 0


__all__ = ["register"]
