"""Locating the external tools the deploy checks run (promtool, docker compose)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tool(name: str, install_hint: str) -> str:
    """Path of ``name``; skipped locally when it is missing, a failure in CI (where it must be)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not on PATH ({install_hint})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def promtool() -> str:
    return require_tool("promtool", "`make system-deps` installs Debian's prometheus package")


def run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; the caller asserts on returncode with the output shown."""
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(proc.args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
