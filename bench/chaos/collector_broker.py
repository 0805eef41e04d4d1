"""Collector and broker: Kafka unreachable during a publish, and a collector killed with a full spool.

Everything runs against Apache Kafka reachable only through a loopback TCP proxy
(``env.proxy``, ``tests/fixtures/proxy.py``: Kafka's proxied listener advertises the proxy),
worker included: cutting the proxy is Kafka going away for every client, while the broker
keeps what it already holds.

1. A collector publishes lab commands and code submissions at a steady pace; a third of
   the way through, Kafka is unreachable for 30 s (5 s in the quick run). The collector
   spools to disk and drains in order when Kafka is back.
2. A collector process with Kafka away fills its spool until the SDK raises
   ``SpoolFullError`` (a clear error, nothing dropped silently), and is killed with
   ``kill -9``. A new collector on the same spool directory drains it.

Every accepted event must come out of the worker (events in = accepted, not refused). The
collectors' own count of events they gave up on (``labstream_collector_lost_total``) is read
into the account too: it must be 0, and ``lost`` is at least that count.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
import time

from bench.chaos.common import Account, Env, Observer, Sent, settle
from foundation.settings import Settings
from labstream.broker import free_port
from producers import Collector
from tests.fixtures.proxy import Proxy

FAST_FAIL = {"delivery_timeout_ms": 3000, "request_timeout_ms": 1000, "max_block_ms": 1000, "linger_ms": 5}

_CHILD = textwrap.dedent("""
    import sys, time
    from foundation.settings import Settings
    from producers import Collector, SpoolFullError
    s = Settings.model_validate_json(sys.argv[1])
    c = Collector(s, spool_fsync="always")
    n = 0
    with open(sys.argv[2], "w") as f:
        while True:
            try:
                eid = c.track_code_submission(f"student-{n % 40}", f"print({n})", "ex-spool")
            except SpoolFullError:
                break
            f.write(eid + "\\n")
            n += 1
        f.flush()
    print("FULL", n, c.spool.depth, flush=True)
    time.sleep(600)
""")


async def run(env: Env) -> Account:
    acc = Account("collector + broker outage")
    outage_s = 5.0 if env.quick else 30.0
    n = 3_000 if env.quick else 20_000
    proxy = env.proxy
    if proxy is None:
        raise RuntimeError("the collector outage needs Kafka behind a proxy (env.proxy)")
    env.on_close(proxy.restore)
    settings = env.settings(bootstrap=proxy.bootstrap)
    async with Observer(settings) as obs:
        worker = env.worker(settings, "outage")
        await asyncio.to_thread(worker.wait_ready)
        ids, spooled, lost_a = await asyncio.to_thread(_publish_through_outage, settings, proxy, n, outage_s)
        killed_ids, depth, lost_b = await asyncio.to_thread(_killed_with_full_spool, env, settings)
        sent = [Sent(settings.topics.lab_events, -1, -1, i) for i in ids]
        sent += [Sent(settings.topics.student_events, -1, -1, i) for i in killed_ids]
        await settle(acc, obs, sent, wait_s=180)
        acc.check(worker.proc is not None and worker.proc.poll() is None, "worker died during the outage")
    acc.check(spooled > 0, "nothing was spooled: the outage did not hit the publish")
    counted = lost_a + lost_b  # labstream_collector_lost_total of the in-process collectors
    acc.lost = max(acc.lost, counted)
    acc.check(counted == 0, f"the collectors counted {counted} events lost (labstream_collector_lost_total)")
    acc.detail = (
        f"{len(ids)} published with Kafka away {outage_s:.0f} s ({spooled} spooled); "
        f"{len(killed_ids)} in a full spool ({depth} deep) of a kill -9'd collector, drained by a new one"
    )
    return acc


def _publish_through_outage(
    settings: Settings, proxy: Proxy, n: int, outage_s: float
) -> tuple[list[str], int, int]:
    ids: list[str] = []
    restore = threading.Timer(outage_s, proxy.restore)
    with Collector(settings, producer_overrides=FAST_FAIL, spool_fsync="never") as c:
        started = time.monotonic()
        cut_at: float | None = None
        for i in range(n):
            if i == n // 3:
                proxy.cut()
                cut_at = time.monotonic()
            # the outage is counted from when the collector noticed it (it spools), so that it
            # really is unreachable for outage_s during the publish, however slow the notice
            if cut_at is not None and (c.delivery.spooling or time.monotonic() - cut_at > 20):
                restore.start()
                cut_at = None
            ids.append(
                c.track_lab_command(
                    f"student-{i % 50}", f"sess-{i % 40}", i // 40, "sh ip int br", "cisco_ios"
                )
            )
            # spread the publish over the outage and after it: ~2 outages long in all
            time.sleep(max(0.0, started + 2 * outage_s * (i + 1) / n - time.monotonic()))
        restore.join()
        if not c.wait_drained(120):
            raise RuntimeError(f"spool not drained 120 s after Kafka came back ({c.spool.depth} left)")
        c.flush()
    return ids, c.spool.appended_total, c.lost


def _killed_with_full_spool(env: Env, settings: Settings) -> tuple[list[str], int, int]:
    dead = settings.model_copy(
        update={"bootstrap_servers": f"127.0.0.1:{free_port()}", "spool_max_bytes": 256 * 1024}
    )
    ids_file = env.root / f"spool-ids-{settings.app_id}.txt"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, dead.model_dump_json(), str(ids_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        if not line or line[0] != "FULL":
            raise RuntimeError(f"collector child said {line!r}")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    ids = ids_file.read_text().split()
    with Collector(settings) as c:  # same spool directory, Kafka reachable
        depth = c.spool.depth
        if not c.wait_drained(60):
            raise RuntimeError(f"full spool not drained ({c.spool.depth} left)")
    return ids, depth, c.lost
