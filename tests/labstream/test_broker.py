"""The embedded broker starts, answers, stops, and never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from foundation.exceptions import BrokerError
from labstream.broker import EmbeddedBroker, list_topics, wait_for_kafka


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_start_answer_stop() -> None:
    with EmbeddedBroker() as b:
        assert b.alive()
        wait_for_kafka(b.bootstrap, timeout=5)
        assert isinstance(list_topics(b.bootstrap), set)
        pid = b.pid
    assert pid is not None and not _alive(pid)


def test_port_in_use_is_a_clear_error(tansu_broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError):
        EmbeddedBroker(port=tansu_broker.port).start(timeout=3)


def test_no_orphan_when_parent_is_killed(tmp_path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from labstream.broker import EmbeddedBroker
        b = EmbeddedBroker().start()
        print(b.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "broker survived its parent"


def test_cli_broker_prints_bootstrap_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "labstream.cli", "broker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    bootstrap = proc.stdout.readline().decode().strip()
    assert bootstrap.startswith("127.0.0.1:")
    wait_for_kafka(bootstrap, timeout=5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    with pytest.raises(BrokerError):
        wait_for_kafka(bootstrap, timeout=1)
