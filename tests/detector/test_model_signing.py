"""Models are signed (HMAC-SHA256 over the metadata, which holds the model's sha256): a model or
metadata changed by anyone without the key, or signed with another key, is refused (issue 15)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from detector import ModelIntegrityError, ModelRegistry, synthetic_normal_traffic, train_detector
from detector.registry import DEV_KEY_FILE, MODEL_FILE, key_id, sha256_of
from foundation.exceptions import ConfigurationError
from foundation.settings import Settings

KEY = b"k" * 32


@pytest.fixture
def signed(tmp_path: Path) -> tuple[ModelRegistry, str]:
    reg = ModelRegistry(tmp_path / "models", signing_key=KEY)
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=200, seed=3)
    version = reg.save(train_detector(rows, ids, seed=3), {"synthetic": True})
    reg.promote(version)
    return reg, version


def _meta_path(reg: ModelRegistry, version: str) -> Path:
    return reg.model_dir / "versions" / version / "metadata.json"


def test_a_saved_model_is_signed_and_loads(signed: tuple[ModelRegistry, str]) -> None:
    reg, version = signed
    sig = reg.metadata(version)["signature"]
    assert sig["alg"] == "HMAC-SHA256" and sig["key_id"] == key_id(KEY) and len(sig["value"]) == 64
    assert reg.load(version).version == version
    assert KEY.decode() not in _meta_path(reg, version).read_text()


def test_a_tampered_model_file_is_refused(signed: tuple[ModelRegistry, str]) -> None:
    reg, version = signed
    path = reg.model_dir / "versions" / version / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        reg.load(version)
    # and the attacker's fix of the checksum breaks the signature
    meta = json.loads(_meta_path(reg, version).read_text())
    _meta_path(reg, version).write_text(json.dumps({**meta, "sha256": sha256_of(path)}))
    with pytest.raises(ModelIntegrityError, match="signature does not match"):
        reg.load(version)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["thresholds"].update({k: v * 10 for k, v in m["thresholds"].items()}),  # quieter alerts
        lambda m: m.update({"evaluation": {"recall": 1.0}}),
        lambda m: m.pop("signature"),
        lambda m: m["signature"].update({"value": "0" * 64}),
    ],
    ids=["thresholds", "evaluation", "signature removed", "signature forged"],
)
def test_tampered_metadata_is_refused(signed: tuple[ModelRegistry, str], change: object) -> None:
    reg, version = signed
    meta = json.loads(_meta_path(reg, version).read_text())
    change(meta)  # type: ignore[operator]
    _meta_path(reg, version).write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="signature|unsigned"):
        reg.load(version)
    with pytest.raises(ModelIntegrityError):
        reg.promote(version)
    with pytest.raises(ModelIntegrityError):  # nor is it re-signed by an update
        reg.update_metadata(version, note="x")


def test_a_model_signed_with_another_key_is_refused(
    signed: tuple[ModelRegistry, str], tmp_path: Path
) -> None:
    reg, version = signed
    other = ModelRegistry(reg.model_dir, signing_key=b"o" * 32)
    with pytest.raises(ModelIntegrityError, match="signed with another key"):
        other.load(version)
    # a whole version written by another registry (another key) and copied in: refused too
    foreign = ModelRegistry(tmp_path / "foreign", signing_key=b"f" * 32)
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=200, seed=4)
    v2 = foreign.save(train_detector(rows, ids, seed=4), {"synthetic": True})
    shutil.copytree(foreign.model_dir / "versions" / v2, reg.model_dir / "versions" / v2)
    with pytest.raises(ModelIntegrityError, match="signed with another key"):
        reg.promote(v2)


def test_a_signed_version_copied_under_another_name_is_refused(signed: tuple[ModelRegistry, str]) -> None:
    reg, version = signed
    root = reg.model_dir / "versions"
    shutil.copytree(root / version, root / "renamed")
    with pytest.raises(ModelIntegrityError, match="names version"):
        reg.load("renamed")


def test_keys_from_settings(tmp_path: Path) -> None:
    dev = ModelRegistry.from_settings(Settings(model_dir=tmp_path / "m", data_dir=tmp_path))
    dev.ensure_model(seed=1)
    key_file = tmp_path / "m" / DEV_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
    assert ModelRegistry(tmp_path / "m").load_current().version == dev.current_version()  # same dev key
    with pytest.raises(ConfigurationError, match="LABSTREAM_MODEL_SIGNING_KEY"):
        ModelRegistry.from_settings(Settings(environment="production", model_dir=tmp_path / "p"))
    configured = Settings(environment="production", model_dir=tmp_path / "m", model_signing_key="s" * 40)  # type: ignore[arg-type]
    with pytest.raises(ModelIntegrityError, match="another key"):  # the dev key's models are not trusted
        ModelRegistry.from_settings(configured).load_current()
    (tmp_path / "key").write_bytes(os.urandom(32))
    from_file = Settings(model_dir=tmp_path / "m", model_signing_key_file=tmp_path / "key")
    with pytest.raises(ModelIntegrityError, match="another key"):
        ModelRegistry.from_settings(from_file).load_current()


def test_sign_vouches_for_an_older_unsigned_version_after_checking_it(
    signed: tuple[ModelRegistry, str],
) -> None:
    reg, version = signed
    meta = json.loads(_meta_path(reg, version).read_text())
    del meta["signature"]  # as saved before models were signed
    _meta_path(reg, version).write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="unsigned"):
        reg.load(version)
    reg.sign(version)
    assert reg.load(version).version == version
    # a version whose file does not match its checksum is not signed
    _meta_path(reg, version).write_text(json.dumps(meta))
    with (reg.model_dir / "versions" / version / MODEL_FILE).open("ab") as f:
        f.write(b"x")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        reg.sign(version)
    with pytest.raises(ModelIntegrityError, match="unsigned"):
        reg.load(version)
