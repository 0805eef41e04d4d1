"""The generalisation report: generator variants really differ, and the default set is the evaluation."""

from __future__ import annotations

import numpy as np

from detector.evaluation import evaluate
from detector.generalisation import DATASETS, DataSet, evaluate_sets
from detector.incidents import incident_stream
from detector.synthetic import Variation


def test_the_default_variation_is_the_default_generator_draw_for_draw() -> None:
    a = incident_stream(seed=4, n_devices=5, minutes=600, per_type=1)
    b = incident_stream(seed=4, n_devices=5, minutes=600, per_type=1, variation=Variation())
    assert np.array_equal(a.rows, b.rows) and a.incidents == b.incidents


def test_variants_change_what_they_say() -> None:
    base = incident_stream(seed=4, n_devices=20, minutes=600, per_type=1)
    hot = incident_stream(seed=4, n_devices=20, minutes=600, per_type=1, variation=Variation(near_limit=1.0))
    assert np.median(hot.rows[:, 2]) > 0.8 > np.median(base.rows[:, 2])
    assert np.median(hot.rows[:, 3]) > 900
    noisy = incident_stream(seed=4, n_devices=20, minutes=600, per_type=1, variation=Variation(noise=3.0))
    normal = ~base.label & ~noisy.label
    jitter = [np.std(np.diff(np.log(s.rows[normal & (s.device == 0), 1]))) for s in (base, noisy)]
    assert jitter[1] > 2 * jitter[0]
    early = incident_stream(seed=4, n_devices=20, minutes=600, per_type=1, at_start=3, quiet_minutes=0)
    assert sum(i.start == 0.0 for i in early.incidents) == 3


def test_the_default_set_reproduces_the_evaluation() -> None:
    small = DataSet("default", n_devices=8, minutes=600, per_type=1)
    [row] = evaluate_sets((0,), datasets=(small,))
    report, _ = evaluate(0, n_devices=8, minutes=600, per_type=1)
    o = report["ours"]["incident_level"]["overall"]
    assert (row["f1"], row["false_alerts"], row["recall"]) == (o["f1"], o["false_alerts"], o["recall"])
    assert {d.name for d in DATASETS} >= {"default", "noise x3", "incidents at first readings"}
