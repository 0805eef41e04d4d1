"""``labstream model train | list | promote | rollback`` in-process, on files and synthetic data."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest

from detector import ModelRegistry, synthetic_normal_traffic
from labstream.cli import main
from schemas import METRIC_FIELDS


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSTREAM_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def _records(n_devices: int = 10, minutes: int = 300) -> list[dict]:
    rows, ids, t = synthetic_normal_traffic(n_devices=n_devices, minutes=minutes, seed=5)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for r, d, s in zip(rows, ids, t, strict=True):
        rec = {"device_id": d, "occurred_at": (t0 + timedelta(seconds=float(s))).isoformat()}
        rec.update({f: float(v) for f, v in zip(METRIC_FIELDS, r, strict=True)})
        rec["connection_count"] = int(rec["connection_count"])
        out.append(rec)
    return out


def test_train_from_jsonl_skips_invalid_and_records_the_source(model_dir, tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in _records()] + [
        "not json",
        json.dumps({"device_id": "x", "latency_ms": -1}),
    ]
    path.write_text("\n".join(lines))
    assert main(["model", "train", "--input", str(path), "--promote"]) == 0
    out = json.loads(capsys.readouterr().out)
    meta = ModelRegistry(model_dir).metadata(out["version"])
    assert meta["data"]["synthetic"] is False and meta["data"]["source"] == "file"
    assert meta["data"]["events"] == 3000 and meta["data"]["skipped_invalid"] == 2
    assert ModelRegistry(model_dir).current_version() == out["version"]


def test_train_from_csv(model_dir, tmp_path, capsys):
    path = tmp_path / "metrics.csv"
    recs = _records()
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(recs[0]))
        w.writeheader()
        w.writerows(recs)
    assert main(["model", "train", "--input", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["events"] == 3000


def test_parquet_without_pyarrow_says_so(model_dir, tmp_path, capsys):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "m.parquet").write_bytes(b"PAR1")
        assert main(["model", "train", "--input", str(tmp_path / "m.parquet")]) == 2
        assert "pyarrow" in capsys.readouterr().err


def test_too_little_data_is_a_clear_error(model_dir, tmp_path, capsys):
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _records()[:100]))
    assert main(["model", "train", "--input", str(path)]) == 2
    assert "at least 500" in capsys.readouterr().err


def test_synthetic_list_promote_rollback(model_dir, capsys):
    assert main(["model", "train", "--synthetic", "--promote", "--devices", "10", "--minutes", "300"]) == 0
    v1 = json.loads(capsys.readouterr().out)["version"]
    assert main(["model", "train", "--synthetic", "--seed", "1", "--devices", "10", "--minutes", "300"]) == 0
    v2 = json.loads(capsys.readouterr().out)["version"]
    assert main(["model", "promote", v2]) == 0
    assert main(["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"* {v2}" in listing and f"  {v1}" in listing and "synthetic=True" in listing
    assert main(["model", "rollback"]) == 0
    assert ModelRegistry(model_dir).current_version() == v1
    assert main(["model", "promote", "nope"]) == 2


def test_topic_needs_a_time_range(model_dir, capsys):
    assert main(["model", "train", "--topic", "network-metrics"]) == 2
    assert "--start and --end" in capsys.readouterr().err


def test_sign_vouches_for_an_unsigned_version(model_dir, capsys):
    """``labstream model sign``: a version saved before models were signed loads again (issue 15)."""
    assert main(["model", "train", "--synthetic", "--devices", "20", "--minutes", "200"]) == 0
    version = json.loads(capsys.readouterr().out)["version"]
    meta_path = model_dir / "versions" / version / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["signature"]
    meta_path.write_text(json.dumps(meta))
    assert main(["model", "promote", version]) == 2  # refused: unsigned
    assert "unsigned" in capsys.readouterr().err
    assert main(["model", "sign", version]) == 0 and main(["model", "promote", version]) == 0
    assert ModelRegistry(model_dir).current_version() == version
