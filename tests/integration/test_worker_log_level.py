"""``labstream worker --log-level info``: what the engineer on call reads during a rebalance.

The default (warning) keeps Faust quiet; at info the worker's log shows its partition assignment,
recovery and readiness, which is how the lost-batches defect of 2026-11-21 was found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from foundation.settings import Settings
from labstream.cli import build_parser

pytestmark = [pytest.mark.integration]


def test_log_level_is_an_option_with_known_levels() -> None:
    parser = build_parser()
    assert parser.parse_args(["worker"]).log_level == "warning"
    assert parser.parse_args(["worker", "--log-level", "info"]).log_level == "info"
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "--log-level", "loud"])


def test_info_shows_assignment_and_readiness_warning_does_not(
    settings_factory: Callable[..., Settings], worker_factory: Callable[..., Any]
) -> None:
    settings = settings_factory()
    verbose = worker_factory(settings, "--log-level", "info")
    verbose.wait_ready()
    quiet = worker_factory(settings_factory())
    quiet.wait_ready()
    verbose.stop()
    quiet.stop()
    log = verbose.log_path.read_text(errors="replace")
    assert "Setting newly assigned partitions" in log
    assert settings.topics.lab_events in log  # the assignment table names the input topics
    assert "Worker ready" in log
    assert "Setting newly assigned partitions" not in quiet.log_path.read_text(errors="replace")
