"""Keyed pseudonyms and key handling."""

from __future__ import annotations

import stat

import pytest

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings
from producers import Pseudonymizer


def test_pseudonym_is_keyed_hmac_with_key_id() -> None:
    a = Pseudonymizer(b"a" * 32, "k1")
    b = Pseudonymizer(b"b" * 32, "k1")
    p = a.pseudonym("student-42")
    assert p.startswith("k1-") and len(p) == 3 + 32
    assert p == a.pseudonym("student-42") != b.pseudonym("student-42")
    assert "student-42" not in repr(a) and "aaaa" not in repr(a)


def test_rotation_gives_old_and_new(tmp_path) -> None:
    s = Settings(
        pseudonym_key="new-key",
        pseudonym_key_id="k2",
        previous_pseudonym_keys={"k1": "old-key"},
        data_dir=tmp_path,
    )
    p = Pseudonymizer.from_settings(s)
    both = p.pseudonyms_during_rotation("s-1")
    assert list(both) == ["k2", "k1"]
    assert both["k1"] == Pseudonymizer(b"old-key", "k1").pseudonym("s-1")
    assert both["k2"] == p.pseudonym("s-1")


def test_development_creates_private_key_file(tmp_path) -> None:
    s = Settings(data_dir=tmp_path)
    p1 = Pseudonymizer.from_settings(s)
    key_file = tmp_path / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    assert Pseudonymizer.from_settings(s).pseudonym("x") == p1.pseudonym("x")


def test_production_refuses_without_key(tmp_path) -> None:
    with pytest.raises(ConfigurationError):
        Pseudonymizer.from_settings(Settings(environment="production", data_dir=tmp_path))
    assert not (tmp_path / "pseudonym.key").exists()
    with pytest.raises(ConfigurationError):
        Pseudonymizer.from_settings(Settings(environment="production", pseudonym_key="short"))
    ok = Pseudonymizer.from_settings(Settings(environment="production", pseudonym_key="x" * 32))
    assert ok.key_id == "k1"
