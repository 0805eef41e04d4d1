"""ModelFollower: the one rule for following the promoted model (worker and ``labstream api``)."""

from __future__ import annotations

import logging

import pytest

from detector import ModelFollower, ModelRegistry, synthetic_normal_traffic, train_detector
from detector.registry import MODEL_FILE


def _second_version(registry: ModelRegistry) -> str:
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=200, seed=9)
    return registry.save(train_detector(rows, ids, seed=9), {"source": "test", "synthetic": True})


def test_a_newly_promoted_version_is_loaded_once(registry: ModelRegistry) -> None:
    follower = ModelFollower(registry, registry.current_version())
    assert follower.poll() is None
    second = _second_version(registry)
    registry.promote(second)
    det = follower.poll()
    assert det is not None and det.version == second == follower.version
    assert follower.poll() is None


def test_a_refused_version_is_logged_once_and_the_one_in_service_kept(
    registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    first = registry.current_version()
    follower = ModelFollower(registry, first)
    second = _second_version(registry)
    path = registry.model_dir / "versions" / second / MODEL_FILE
    path.write_bytes(path.read_bytes() + b"tampered")
    (registry.model_dir / "CURRENT").write_text(second + "\n")  # promote() would refuse it
    with caplog.at_level(logging.ERROR, logger="detector.follower"):
        assert follower.poll() is None
        assert follower.poll() is None
    assert follower.version == first
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and second in refusals[0] and first in refusals[0]
