"""A running worker refuses a promoted model whose file was changed, and keeps scoring (issue 6)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from foundation.settings import Settings
from labstream.runtime import create_worker


async def test_tampered_promoted_model_is_refused_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(bootstrap_servers="127.0.0.1:1", model_dir=tmp_path / "models", data_dir=tmp_path)
    worker = create_worker(settings)
    try:
        good = worker.model.detector.version
        root = settings.model_dir / "versions"
        bad = good + "-tampered"
        shutil.copytree(root / good, root / bad)
        meta = json.loads((root / bad / "metadata.json").read_text())
        (root / bad / "metadata.json").write_text(json.dumps({**meta, "version": bad}))
        with (root / bad / "model.skops").open("ab") as f:
            f.write(b"tampered")
        (settings.model_dir / "CURRENT").write_text(bad + "\n")
        with caplog.at_level(logging.ERROR):
            await worker._poll_model()  # used to raise ModelIntegrityError: the timer crashed the worker
            await worker._poll_model()
        assert worker.model.detector.version == good
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1 and bad in refusals[0].getMessage()
    finally:
        await worker.pool.close()
