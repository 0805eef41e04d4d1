"""The value ``interpret()`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Category = Literal["show", "debug", "routing", "config", "other"]


@dataclass(frozen=True, slots=True)
class InterpretResult:
    """One interpreted command line.

    >>> from stream_processors.commands import interpret
    >>> r = interpret(None, "cisco_ios", "sh ip int br")
    >>> (r.normalized, r.category, r.mode)
    ('show ip interface brief', 'show', 'exec')

    ``state`` is what to store for the session and pass to the next call: a fresh,
    JSON-serialisable dict (``{"modes": [...], "priv": 15}``), never the input one.
    """

    normalized: str
    category: Category
    mode: str
    state: dict[str, Any]
