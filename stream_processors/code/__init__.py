"""Checking students' code submissions: bounded, safe syntax checks and the struggling-student rule.

* ``check_code(language, code, max_bytes)``: pure, in-process; CPython's own syntax errors for
  Python, ``yaml.safe_load_all`` for YAML, a sandboxed Jinja2 parse (never a render).
* ``CodeCheckPool``: the same checks for an asyncio worker, in child processes with a per-item
  timeout and a memory limit; batches go to a child in one round trip.
* ``StrugglingTracker``: N consecutive failures on one exercise raise one alert.
"""

from stream_processors.code._checks import check_code
from stream_processors.code._pool import CodeCheckPool
from stream_processors.code._struggling import StrugglingTracker
from stream_processors.code._verdict import CodeVerdict

__all__ = ["CodeCheckPool", "CodeVerdict", "StrugglingTracker", "check_code"]
