"""``labstream up``: the whole pipeline on one machine, with demo traffic and live alerts.

Starts the embedded broker (unless Kafka is configured), a worker process,
the demo traffic through the real collector, and prints alerts as they
arrive. With a duration it stops by itself and prints a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from foundation.settings import Settings
from labstream.broker import free_port
from labstream.processes import stop_process


class _OutputWatcher(threading.Thread):
    """Counts records on every output topic and prints alerts, in its own event loop."""

    def __init__(self, settings: Settings, quiet: bool) -> None:
        super().__init__(name="labstream-output-watcher", daemon=True)
        self.settings = settings
        self.quiet = quiet
        self.counts: Counter[str] = Counter()
        self.alerts: Counter[tuple[str, str]] = Counter()
        self.alert_ids: set[str] = set()
        self._stop_flag = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def stop(self) -> None:
        self._stop_flag.set()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
            self.ready.set()

    async def _main(self) -> None:
        from aiokafka import AIOKafkaConsumer

        from labstream.alerts import format_alert
        from schemas import Alert

        topics = self.settings.topics
        consumer = AIOKafkaConsumer(
            *topics.outputs(),
            bootstrap_servers=self.settings.bootstrap_list,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        self.ready.set()
        colour = sys.stdout.isatty()
        try:
            while not self._stop_flag.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for tp, msgs in batches.items():
                    self.counts[tp.topic] += len(msgs)
                    if tp.topic != topics.alerts:
                        continue
                    for m in msgs:
                        alert = Alert.model_validate_json(m.value)
                        self.alert_ids.add(alert.alert_id)
                        self.alerts[(alert.alert_type, alert.severity)] += 1
                        if not self.quiet:
                            print(format_alert(alert, colour=colour), flush=True)
        finally:
            await consumer.stop()


def _start_worker(settings: Settings, web_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.model_copy(update={"worker_web_port": web_port}).to_env()}
    return subprocess.Popen(
        [sys.executable, "-m", "labstream.cli", "worker"], env=env, stdin=subprocess.DEVNULL
    )


def _summary(published: Counter[str], watcher: _OutputWatcher, seconds: float) -> str:
    lines = [f"\nLabStream ran {seconds:.0f} s.", "Events published per input topic:"]
    for topic, n in sorted(published.items()):
        lines.append(f"  {topic:<32} {n:>8}")
    lines.append("Records per output topic:")
    for topic in watcher.settings.topics.outputs():
        lines.append(f"  {topic:<32} {watcher.counts.get(topic, 0):>8}")
    lines.append("Alerts by type and severity:")
    if not watcher.alerts:
        lines.append("  (none)")
    for (kind, sev), n in sorted(watcher.alerts.items()):
        lines.append(f"  {kind:<20} {sev:<8} {n:>6}")
    return "\n".join(lines)


def run_up(settings: Settings, *, duration: float | None, rate: float, seed: int, quiet: bool) -> int:
    from kafka import KafkaProducer

    from labstream.demo import DemoTraffic
    from labstream.runtime import broker_for, create_topics
    from producers import Collector

    with broker_for(settings) as s:
        create_topics(s)
        web_port = s.worker_web_port if _port_free(s.worker_web_port) else free_port()
        worker = _start_worker(s, web_port)
        watcher = _OutputWatcher(s, quiet)
        watcher.start()
        watcher.ready.wait(30)
        stop = threading.Event()
        started = time.monotonic()
        raw = KafkaProducer(bootstrap_servers=s.bootstrap_list)
        print(
            f"LabStream is up: Kafka {s.bootstrap_servers}, worker http://127.0.0.1:{web_port}/metrics. "
            + ("Ctrl-C to stop." if duration is None else f"Running {duration:.0f} s."),
            flush=True,
        )
        try:
            with Collector(s) as collector:
                demo = DemoTraffic(collector, rate=rate, seed=seed, raw_producer=raw, settings=s)
                traffic_for = None if duration is None else max(1.0, duration - 15.0)
                with contextlib.suppress(KeyboardInterrupt):
                    demo.run(stop, traffic_for)
                    collector.flush()
                    raw.flush()
                    # let the worker finish what is in flight before the summary
                    while duration is not None and time.monotonic() - started < duration:
                        if worker.poll() is not None:
                            break
                        time.sleep(0.5)
        finally:
            raw.close()
            stop_process(worker)
            watcher.stop()
            watcher.join(10)
        print(_summary(demo.published, watcher, time.monotonic() - started), flush=True)
        if worker.returncode not in (0, -signal.SIGTERM, None):
            print(f"worker exited with {worker.returncode}", file=sys.stderr)
            return 1
        return 0


def _port_free(port: int) -> bool:
    import socket

    if port == 0:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


__all__: list[Any] = ["run_up"]
