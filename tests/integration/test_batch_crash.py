"""The batch path on the real broker: a worker killed (SIGKILL) mid-stream loses no event.

Offsets are committed only after a batch's outputs are delivered, so the
worker started after the kill re-reads whatever the first had not finished:
every command gets its categorised output at least once. (Replayed commands
may see session state from the table changelog that is newer than their
offset: at-least-once, not exactly-once.)

Until 2026-11-21 this lost up to 4,000 of the 6,000 events in about half the runs: Faust emptied
the agents' queues when the restarted worker's recovery resumed the flow, and the cancelled put
ended its fetcher (see ``stream_processors.intake.BatchChannel``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from foundation.settings import Settings
from schemas import LabCommand
from tests.fixtures.kafka import consume_all

pytestmark = [pytest.mark.integration]

N = 6000
SCRIPT = ["enable", "conf t", "router ospf 1", "network 10.0.0.0 0.0.0.255 area 0", "end", "sh ip route"]


async def test_kill_mid_stream_loses_nothing(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    from kafka import KafkaProducer

    settings = settings_factory()
    t = settings.topics
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_list, linger_ms=5)
    ids: list[str] = []

    def send(i: int) -> None:
        sid = f"crash-session-{i % 50}"
        seq = i // 50
        ev = LabCommand(
            anonymous_id="k1-0123456789abcdef",
            session_id=sid,
            seq=seq,
            device_type="cisco_ios",
            command=SCRIPT[seq % len(SCRIPT)],
        )
        ids.append(str(ev.event_id))
        producer.send(t.lab_events, key=sid.encode(), value=ev.to_bytes())

    for i in range(N // 2):
        send(i)
    producer.flush()
    # the other half arrives while the first worker runs, up to the kill: it is mid-stream then
    stop = threading.Event()

    def trickle() -> None:
        for i in range(N // 2, N):
            if stop.is_set():
                return
            send(i)
            time.sleep(0.001)

    feeder = threading.Thread(target=trickle, daemon=True)

    first = worker_factory(settings)
    first.wait_ready()
    feeder.start()
    some = await consume_all(
        settings.bootstrap_servers or "",
        [t.commands_categorized],
        until=lambda got: len(got[t.commands_categorized]) >= N // 5,
    )
    assert len(some[t.commands_categorized]) >= N // 5, first.log_tail()
    stop.set()
    feeder.join(30)
    producer.flush()  # the last commands are on the broker, the worker fetching them: kill now
    first.stop(kill=True)
    producer.close()
    sent = len(ids)

    # work was in flight at the kill: the killed worker had not written an output for every
    # command sent (read for 10 s, stopping early if it had), so the second worker has some to finish
    def all_done(got: dict[str, list[Any]]) -> bool:
        return len({json.loads(m.value)["event_id"] for m in got[t.commands_categorized]}) >= sent

    at_kill = await consume_all(
        settings.bootstrap_servers or "", [t.commands_categorized], until=all_done, timeout=10
    )
    assert not all_done(at_kill), f"all {sent} commands were done before the kill: nothing was in flight"

    second = worker_factory(settings)
    second.wait_ready()
    want = set(ids)

    def done(got: dict[str, list[Any]]) -> bool:
        return want <= {json.loads(m.value)["event_id"] for m in got[t.commands_categorized]}

    got = await consume_all(
        settings.bootstrap_servers or "", [t.commands_categorized], until=done, timeout=120
    )
    outs = [json.loads(m.value) for m in got[t.commands_categorized]]
    missing = want - {o["event_id"] for o in outs}
    assert not missing, f"{len(missing)} of {sent} without output after kill -9:\n{second.log_tail()}"
