"""Acceptance 1: ``labstream model evaluate`` on a fixed seed, ours vs the first design, Shuttle ROC-AUC."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector.evaluation import FirstDesign
from detector.incidents import INCIDENT_TYPES, incident_stream
from detector.metrics import incident_level, raise_alerts
from labstream.cli import main


def test_model_evaluate_meets_the_acceptance_bar(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABSTREAM_MODEL_DIR", str(tmp_path / "models"))
    # its time: bench/limits.py
    assert main(["model", "evaluate", "--seed", "0", "--out", str(tmp_path / "report")]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    ours = report["ours"]["incident_level"]["overall"]
    first = report["first_design"]["incident_level"]["overall"]
    assert ours["f1"] >= 0.9
    assert ours["false_alerts_per_device_day"] <= 1.0
    assert ours["f1"] >= first["f1"] + 0.3
    assert "first design" in printed and "incident-level F1" in printed
    assert f"{ours['f1']}" in printed and f"{first['f1']}" in printed
    assert "Shuttle ROC-AUC" in printed and report["shuttle"]["roc_auc_global_regime"] > 0.9
    assert report["stream"]["synthetic"] is True and "metrics" in report["definitions"]
    assert set(INCIDENT_TYPES) <= set(report["ours"]["incident_level"])
    png = (tmp_path / "report" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_first_design_batch_equals_one_event_per_call():
    fd = FirstDesign.train(0)
    rows = incident_stream(seed=1, n_devices=3, minutes=600, per_type=1).rows[:50]
    flags, scores = fd.predict(rows)
    for i in range(rows.shape[0]):
        f1, s1 = fd.predict(rows[i : i + 1])
        assert f1[0] == flags[i] and s1[0] == pytest.approx(scores[i])


def test_alerts_open_incidents_by_the_workers_rule():
    # an incident lasts while flagged events of a device come less than the window apart (the
    # worker's rule, detector.episodes): 0, 60, 300 and 599 are one incident of device 0, 900 a new one
    flagged = np.array([True, True, True, True, True, True])
    device = np.array([0, 0, 1, 0, 0, 0])
    t = np.array([0.0, 60.0, 60.0, 300.0, 599.0, 900.0])
    assert raise_alerts(flagged, device, t, 300.0).tolist() == [True, False, True, False, False, True]


def test_too_short_a_stream_is_refused_not_looped():
    with pytest.raises(ValueError, match="no room"):
        incident_stream(seed=1, n_devices=3, minutes=200, per_type=1)


def test_incident_metrics_count_false_alerts_and_delay():
    stream = incident_stream(seed=2, n_devices=4, minutes=600, per_type=1)
    perfect = stream.label.copy()
    m = incident_level(stream, perfect, 300.0)["overall"]
    assert m["recall"] == 1.0 and m["precision"] == 1.0 and m["false_alerts"] == 0
    assert m["delay_min_median"] < 1.0
    noisy = perfect.copy()
    noisy[np.flatnonzero(~stream.label)[::1000]] = True
    assert incident_level(stream, noisy, 300.0)["overall"]["false_alerts"] > 0
