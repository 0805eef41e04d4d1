"""The newcomer's first run: `labstream up --duration` on the embedded broker shows incidents as alerts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_up_runs_the_whole_pipeline_and_summarises(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env["LABSTREAM_WORKER_WEB_PORT"] = "0"
    out = subprocess.run(
        [sys.executable, "-m", "labstream.cli", "up", "--duration", "70"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    # the alerts were printed as they arrived, readably
    assert re.search(r"HIGH\s+network_anomaly\s+lab-r02", text), text[-3000:]
    assert re.search(r"struggling_student\s+k1-[0-9a-f]{32}", text)
    summary = text[text.index("Records per output topic:") :]
    for topic in ("code-checks", "commands-categorized", "alerts", "dead-letters"):
        n = int(re.search(rf"^\s+{topic}\s+(\d+)$", summary, re.M).group(1))  # type: ignore[union-attr]
        assert n > 0, summary
    assert re.search(r"network_anomaly\s+high\s+[1-9]", summary)
    # the dev pseudonym key was created next to the run, readable only by its owner
    key = tmp_path / ".labstream" / "pseudonym.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0
    # no student id of the demo ever reaches the screen
    assert "@school.example" not in text + out.stderr
    # a broker still starting is no error: no ERROR line at all (kafka-python used to log two)
    assert " ERROR " not in out.stderr and "[ERROR]" not in out.stderr, out.stderr[-3000:]
