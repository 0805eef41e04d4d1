"""The composition root alone decides a worker's web port and what it serves with no promoted model
(issue 12): the worker itself picks neither."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from labstream.runtime import ensure_serving_model, with_worker_port
from stream_processors import app as worker_app


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    base = Settings(bootstrap_servers="127.0.0.1:1", model_dir=tmp_path / "models", data_dir=tmp_path)
    return base.model_copy(update=overrides)


def test_a_worker_built_directly_does_not_train_a_stand_in(tmp_path: Path) -> None:
    s = _settings(tmp_path)  # development: labstream would train a synthetic model, the worker does not
    with pytest.raises(ConfigurationError, match="no promoted anomaly model"):
        worker_app.create_worker(s, CollectorRegistry())
    assert not (s.model_dir / "versions").exists()


def test_a_worker_serves_the_model_the_composition_root_made_sure_of(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    ensure_serving_model(s)  # development: a synthetic model trained and promoted here
    w = worker_app.create_worker(s, CollectorRegistry())
    assert w.model.detector.version == w.model_registry.current_version()


def test_a_worker_does_not_pick_its_own_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="worker_web_port is 0"):
        worker_app.faust_settings(_settings(tmp_path, worker_web_port=0))


def test_the_composition_root_picks_a_free_port_only_when_none_is_set(tmp_path: Path) -> None:
    picked = with_worker_port(_settings(tmp_path, worker_web_port=0))
    assert picked.worker_web_port != 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((picked.worker_web_host, picked.worker_web_port))  # free: the worker can bind it
    assert with_worker_port(_settings(tmp_path, worker_web_port=7123)).worker_web_port == 7123
    assert worker_app.faust_settings(picked)["web_port"] == picked.worker_web_port
