"""One way to read or create a development key file, for the pseudonym key and the model signing key."""

from __future__ import annotations

import doctest
import logging
import stat
from pathlib import Path

import pytest

from detector import ModelIntegrityError, ModelRegistry
from detector.registry import DEV_KEY_FILE
from foundation import key_files
from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from producers import Pseudonymizer


def test_doctest() -> None:
    assert doctest.testmod(key_files).failed == 0


def test_created_once_private_and_read_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="foundation.key_files")
    path = tmp_path / "deeper" / "k.key"
    key = key_files.load_or_create_key_file(path, what="test key")
    assert len(key) == key_files.DEV_KEY_BYTES and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_files.load_or_create_key_file(path, what="test key") == key
    assert [r.getMessage() for r in caplog.records] == [
        f"created development test key file {path} (mode 0600)"
    ]
    assert key.hex() not in caplog.text


def test_a_file_others_can_read_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"k" * 20)
    path.chmod(0o644)
    assert key_files.load_or_create_key_file(path, what="test key") == b"k" * 20
    assert "test key file" in caplog.text and "readable by others" in caplog.text
    assert "kkkk" not in caplog.text


def test_an_empty_file_is_each_rooms_own_error(tmp_path: Path) -> None:
    """The pseudonym key's is a ConfigurationError; the registry's a ModelIntegrityError (a
    DetectorError, which the model follower survives), as before they shared the helper."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "pseudonym.key").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="pseudonym key file .* is empty"):
        Pseudonymizer.from_settings(Settings(data_dir=data))
    models = tmp_path / "models"
    models.mkdir()
    (models / DEV_KEY_FILE).write_bytes(b"")
    with pytest.raises(ModelIntegrityError, match="model signing key file .* is empty"):
        ModelRegistry(models).ensure_model(seed=1)
