"""Registry: versions, metadata, promotion, rollback, and refusal of tampered or pickled files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from detector import (
    ModelIntegrityError,
    ModelNotFoundError,
    ModelRegistry,
    synthetic_normal_traffic,
    train_detector,
)
from detector.registry import MODEL_FILE, sha256_of


def test_empty_registry_has_no_model(tmp_path):
    reg = ModelRegistry(tmp_path)
    assert reg.current_version() is None
    with pytest.raises(ModelNotFoundError):
        reg.load_current()


def test_ensure_model_is_synthetic_and_described(tmp_path):  # its time: bench/limits.py
    reg = ModelRegistry(tmp_path)
    det = reg.ensure_model(seed=42)
    assert reg.current_version() == det.version
    meta = reg.metadata(det.version)
    assert meta["data"]["synthetic"] is True and meta["data"]["source"] == "synthetic"
    for key in ("version", "trained_at", "features", "libraries", "thresholds", "sha256", "evaluation"):
        assert key in meta
    assert meta["sha256"] == sha256_of(tmp_path / "versions" / det.version / MODEL_FILE)
    assert reg.ensure_model(seed=1).version == det.version  # idempotent: no retraining


def test_loaded_model_scores_like_the_saved_one(registry):
    rows, ids, _ = synthetic_normal_traffic(n_devices=5, minutes=60, seed=3)
    a = registry.load_current().score_arrays(rows, ids, {}).score
    b = registry.load(registry.current_version()).score_arrays(rows, ids, {}).score
    np.testing.assert_allclose(a, b)


def test_promote_and_rollback(registry):
    first = registry.current_version()
    rows, ids, _ = synthetic_normal_traffic(n_devices=20, minutes=200, seed=9)
    det = train_detector(rows, ids, seed=9)
    second = registry.save(det, {"source": "test", "synthetic": True})
    assert [m["version"] for m in registry.versions()] == [first, second]
    registry.promote(second)
    assert registry.current_version() == second
    assert registry.rollback() == first
    assert registry.current_version() == first
    with pytest.raises(ModelNotFoundError):
        registry.rollback()
    with pytest.raises(ModelNotFoundError):
        registry.promote("no-such-version")


def test_one_changed_byte_is_refused(registry):
    version = registry.current_version()
    path = registry.model_dir / "versions" / version / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        registry.load(version)


def test_pickle_dressed_as_a_model_is_refused_even_with_a_matching_checksum(registry):
    version = registry.current_version()
    path = registry.model_dir / "versions" / version / MODEL_FILE
    path.write_bytes(pickle.dumps({"format": 1, "forest": None}))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        registry.load(version)
    # the attacker also fixed the checksum, without the signing key: the signature no longer matches
    meta_path = path.parent / "metadata.json"
    signed = meta_path.read_text()
    meta = json.loads(signed)
    meta["sha256"] = sha256_of(path)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelIntegrityError, match="signature does not match"):
        registry.load(version)
    # even signed by the key's holder (the checksum re-signed), the file is still not a skops file
    meta_path.write_text(signed)
    registry.update_metadata(version, sha256=sha256_of(path))
    with pytest.raises(ModelIntegrityError, match="not a skops file"):
        registry.load(version)


def test_untrusted_type_inside_a_skops_file_is_refused(registry):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    version = registry.current_version()
    path = registry.model_dir / "versions" / version / MODEL_FILE
    sio.dump({"format": 1, "f": FunctionTransformer(func=os.system)}, path)
    registry.update_metadata(version, sha256=sha256_of(path))
    with pytest.raises(ModelIntegrityError, match="untrusted types"):
        registry.load(version)
