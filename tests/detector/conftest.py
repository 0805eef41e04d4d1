"""Shared fixtures of the detector tests: one trained registry per session (training takes < 1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector import Detector, ModelRegistry


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    reg = ModelRegistry(Path(tmp_path_factory.mktemp("models")))
    reg.ensure_model(seed=42)
    return reg


@pytest.fixture(scope="session")
def detector(session_registry: ModelRegistry) -> Detector:
    return session_registry.load_current()


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    """A fresh registry holding one promoted synthetic model."""
    reg = ModelRegistry(tmp_path / "models")
    reg.ensure_model(seed=7)
    return reg
