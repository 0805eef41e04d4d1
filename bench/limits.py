"""Time limits that used to be asserted in unit tests: measured here, in ``make bench``.

A unit test checks what the code does; how fast it does it on a shared CI machine is a
figure, reported with its target so a regression shows as ``NOT MET`` in the table.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from detector import ModelRegistry
from stream_processors.commands import DEVICE_TYPES, interpret
from tests.stream_processors.test_commands_properties import PATHOLOGICAL_LINES as PATHOLOGICAL

_STATES = [{"modes": ["configuration"], "priv": 15}, {"modes": ["config", "config-if"], "priv": 15}]


def _seconds(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _pathological_commands() -> None:
    for line in PATHOLOGICAL:
        for device_type in DEVICE_TYPES:
            for state in _STATES:
                interpret(state, device_type, line)  # type: ignore[arg-type]


def _inline_worst_case() -> float:
    """The slowest admitted inline code check (best of 3 per case), in seconds."""
    from stream_processors.code import check_code
    from tests.stream_processors.test_code_inline import ADVERSARIAL

    return max(
        min(_seconds(lambda c=code: check_code("python", c, 1 << 20)) for _ in range(3))
        for code in ADVERSARIAL.values()
    )


def _synthetic_model() -> None:
    with tempfile.TemporaryDirectory() as d:
        ModelRegistry(Path(d)).ensure_model(seed=42)


def _model_evaluate() -> None:
    from labstream.cli import main

    with tempfile.TemporaryDirectory() as d:
        before = os.environ.get("LABSTREAM_MODEL_DIR")
        os.environ["LABSTREAM_MODEL_DIR"] = str(Path(d) / "models")  # not the current directory's
        try:
            if main(["model", "evaluate", "--seed", "0", "--out", str(Path(d) / "report")]) != 0:
                raise RuntimeError("labstream model evaluate failed")
        finally:
            if before is None:
                del os.environ["LABSTREAM_MODEL_DIR"]
            else:
                os.environ["LABSTREAM_MODEL_DIR"] = before


def run() -> list[dict[str, Any]]:
    rows = []
    cases = [
        (
            "commands: pathological lines x device types x 2 states",
            _pathological_commands,
            "<= 5",
            f"{len(PATHOLOGICAL)} lines of up to 4 KB, {len(DEVICE_TYPES)} device types",
        ),
        (
            "detector: train and promote the synthetic model",
            _synthetic_model,
            "<= 5",
            "ensure_model(seed=42)",
        ),
        ("detector: labstream model evaluate --seed 0", _model_evaluate, "<= 60", "the acceptance report"),
    ]
    for name, fn, target, detail in cases:
        rows.append(
            {"name": name, "value": round(_seconds(fn), 2), "unit": "s", "target": target, "detail": detail}
        )
    rows.append(
        {
            "name": "code checks: slowest admitted inline worst case",
            "value": round(_inline_worst_case() * 1000, 1),
            "unit": "ms",
            "target": "<= 100",
            "detail": "best of 3 per case of tests/stream_processors/test_code_inline.py ADVERSARIAL",
        }
    )
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row)
