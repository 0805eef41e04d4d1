"""A worker stopped with SIGTERM mid-stream (a deploy, a scale-in) leaves with exit status 0 (issue 6)."""

from __future__ import annotations

import time

import pytest

from bench.chaos import workload
from bench.chaos.common import publish_raw

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def test_sigterm_while_busy_exits_0(settings_factory, worker_factory) -> None:
    settings = settings_factory()
    worker = worker_factory(settings)
    worker.wait_ready()
    publish_raw(settings.bootstrap_servers, workload.build(settings, scale=0.3).records)
    time.sleep(0.5)  # batches in flight, more waiting in the fetcher
    code = worker.stop()
    assert code == 0, f"exit status {code}:\n{worker.log_tail()}"
    assert "Crashed reason" not in worker.log_path.read_text(errors="replace")
