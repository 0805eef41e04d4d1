"""Short API tokens and signing keys are refused at start-up, with a clear error that never shows them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from foundation.settings import MIN_SECRET_CHARS, Settings

SHORT = "short-token-Zq9"  # noqa: S105 - 15 characters
LONG = "L" * MIN_SECRET_CHARS


def test_a_short_token_is_refused_and_not_shown() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(api_tokens=[LONG, SHORT])  # type: ignore[list-item]
    text = str(info.value)
    assert f"shorter than {MIN_SECRET_CHARS} characters" in text and "number 2 of 2" in text
    assert SHORT not in text and LONG not in text
    assert Settings(api_tokens=[LONG]).api_tokens[0].get_secret_value() == LONG  # type: ignore[list-item]


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(model_signing_key="k" * (MIN_SECRET_CHARS - 1))  # type: ignore[arg-type]
    assert "signing key is shorter" in str(info.value) and "k" * 31 not in str(info.value)


@pytest.mark.parametrize("command", [["api"], ["worker"]])
def test_the_cli_refuses_to_start_with_a_short_token(command: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
    env |= {"LABSTREAM_API_TOKENS": f"{LONG},{SHORT}", "LABSTREAM_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "labstream.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "labstream: error: LABSTREAM_API_TOKENS:" in proc.stderr
    assert f"shorter than {MIN_SECRET_CHARS} characters" in proc.stderr
    assert SHORT not in proc.stderr + proc.stdout and LONG not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
