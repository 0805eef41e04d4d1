"""One submission's contribution to its exercise's insights, and error-message normalisation."""

from __future__ import annotations

import hashlib
import re
from typing import Any

_QUOTED = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"")
_NUMBER = re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?![\w>])")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_ERROR_LINE = re.compile(
    r"^\s*((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b.*)$", re.M
)
_MAX_MESSAGE = 200


def _quoted(m: re.Match[str]) -> str:
    inner = m.group(1) if m.group(1) is not None else m.group(2)
    q = "'" if m.group(1) is not None else '"'
    if not any(c.isalnum() for c in inner):  # punctuation CPython quotes: "'(' was never closed"
        return m.group(0)
    return f"{q}<v>{q}"


def normalize_error(message: str) -> str:
    """A message with quoted values, numbers and addresses replaced; its first line, bounded.

    >>> normalize_error("NameError: name 'x' is not defined")
    "NameError: name '<v>' is not defined"
    >>> normalize_error("NameError: name 'y' is not defined. Did you mean: 'Y'?")
    "NameError: name '<v>' is not defined. Did you mean: '<v>'?"
    >>> normalize_error("'(' was never closed")
    "'(' was never closed"
    >>> normalize_error("unterminated string literal (detected at line 12)")
    'unterminated string literal (detected at line <n>)'
    """
    lines = message.strip().splitlines()
    text = lines[0].strip() if lines else ""
    text = _QUOTED.sub(_quoted, text)
    text = _HEX.sub("<n>", text)
    text = _NUMBER.sub("<n>", text)
    return text[:_MAX_MESSAGE]


def error_of(has_syntax_error: bool, error_message: str | None, feedback: str | None) -> str | None:
    """The normalised error a submission shows: its syntax error, else the last exception line of
    the grader's feedback (a traceback ends with it), else None.

    >>> error_of(False, None, "Traceback (most recent call last):\\n  ...\\nKeyError: 'hostname'")
    "KeyError: '<v>'"
    """
    if has_syntax_error and error_message:
        return normalize_error(error_message)
    if feedback:
        found = _ERROR_LINE.findall(feedback[-20_000:])
        if found:
            return normalize_error(found[-1])
    return None


def fact(
    *,
    event_id: str,
    exercise_id: str,
    occurred_at: float,
    anonymous_id: str,
    has_syntax_error: bool,
    unchecked: bool,
    passed: bool | None,
    error: str | None,
    imports: list[str],
) -> dict[str, Any]:
    """What one checked submission contributes (JSON-serialisable; the student as a short digest of
    the pseudonym: distinct counts need no more).

    >>> f = fact(event_id="e1", exercise_id="x", occurred_at=0.0, anonymous_id="k1-ab",
    ...          has_syntax_error=False, unchecked=False, passed=None, error=None, imports=["os"])
    >>> sorted(f)
    ['e', 'err', 'id', 'imp', 'p', 's', 't', 'u', 'x']
    """
    return {
        "id": event_id,
        "e": exercise_id,
        "t": occurred_at,
        "s": hashlib.sha256(anonymous_id.encode("utf-8")).hexdigest()[:16],
        "x": has_syntax_error,
        "u": unchecked,
        "p": passed,
        "err": error,
        "imp": list(dict.fromkeys(imports))[:50],
    }
