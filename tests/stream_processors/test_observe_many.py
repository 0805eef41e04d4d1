"""observe_many: one histogram update for a batch, the same samples as one observe() per value."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from stream_processors.metrics import observe_many

_BUCKETS = (0.5, 1.0, 2.5, 10.0)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0.0],
        [0.5, 1.0, 2.5, 10.0],  # on the bounds: le is inclusive
        [0.49, 0.51, 3.0, 11.0, 1e9, -1.0],
        np.random.default_rng(0).exponential(2.0, 5000).tolist(),
    ],
)
def test_same_samples_as_observe_one_by_one(values):
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("h", "h", ["agent"], buckets=_BUCKETS, registry=one)
    h2 = Histogram("h", "h", ["agent"], buckets=_BUCKETS, registry=many)
    child = h1.labels(agent="a")
    for v in values:
        child.observe(v)
    observe_many(h2.labels(agent="a"), np.asarray(values, dtype=np.float64))
    s1, s2 = _samples(one), _samples(many)
    assert s1.keys() == s2.keys()
    for k in s1:
        assert s2[k] == pytest.approx(s1[k], rel=1e-12, abs=1e-12), k


def test_a_labelled_parent_is_refused_as_by_observe():
    h = Histogram("h", "h", ["agent"], buckets=_BUCKETS, registry=CollectorRegistry())
    with pytest.raises(ValueError, match="missing label"):
        observe_many(h, np.array([1.0]))
