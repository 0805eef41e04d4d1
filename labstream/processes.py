"""Stopping a child process LabStream started (a broker node, a worker, a bench peer).

One rule: SIGTERM, wait ``timeout`` seconds for a clean exit, then SIGKILL and reap, so no child
outlives its parent's ``stop``. A process that never started or already exited is left alone.
"""

from __future__ import annotations

import subprocess

__all__ = ["stop_process"]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0, *, kill: bool = False) -> None:
    """Stop ``proc``: SIGTERM (or SIGKILL at once with ``kill``), then SIGKILL after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
