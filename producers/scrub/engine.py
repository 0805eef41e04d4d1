"""The scrubbing engine: a cheap trigger check, then precompiled rules in order."""

from __future__ import annotations

import re
from collections.abc import Callable

from producers.scrub import code_rules, command_rules, positional
from producers.scrub.command_rules import RuleSet, marker

__all__ = ["Rule", "Scrubber", "marker"]


Rule = tuple[str, re.Pattern[str], tuple[str, ...] | None]
"""``(kind, pattern, needles)``: group ``v`` is the secret; ``kind`` names it in metrics; a match
contains one of the lower-case ``needles`` (None: always try)."""


_NOT_SECRETS = ("<redacted:", "{{", "{%")
_sensitive = code_rules.is_sensitive_name


def _apply(rules: RuleSet, text: str, counts: list[str], low: str | None = None) -> str:
    """Each active rule in order over the whole text; only group ``v`` of a match is replaced.

    The same as ``pattern.sub`` with a replacement function (``finditer`` finds the same matches),
    without a Python call per match that is kept and without rebuilding the text when all are.
    """
    # Which rules may match is decided on the original text: a marker never introduces a secret.
    prepared = rules.prepared
    for i in rules.active(text.lower() if low is None else low):
        kind, pattern, mark, named = prepared[i]
        parts: list[str] = []
        last = 0
        for m in pattern.finditer(text):
            if not named or _sensitive(m.group("n")):
                start, end = m.span("v")
                value = text[start:end]
                quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
                inner = value[1:-1] if quoted else value
                if inner and not inner.startswith(_NOT_SECRETS):
                    counts.append(kind)
                    parts.append(text[last:start])
                    parts.append(f"{value[0]}{mark}{value[0]}" if quoted else mark)
                    last = end
        if parts:
            parts.append(text[last:])
            text = "".join(parts)
    return text


def _scrub_literals(code: str, counts: list[str]) -> str:
    """:data:`IN_STRING_RULES` on each Python string literal that contains a trigger word."""
    low = code.lower()
    has_trigger = code_rules.IN_STRING_TRIGGER_RE.search
    if has_trigger(low) is None:  # no literal can contain one
        return code
    same_length = len(low) == len(code)  # then low[i] is code[i] lower-cased: test spans of low
    parts: list[str] = []
    last = 0
    for m in code_rules.STRING_LITERAL.finditer(code):
        start, end = m.span()
        literal = m.group()
        lit_low = None
        if same_length:
            if has_trigger(low, start, end) is None:
                continue
        else:
            lit_low = literal.lower()
            if has_trigger(lit_low) is None:
                continue
        out = _apply(code_rules.IN_STRING_RULES, literal, counts, lit_low)
        if out != literal:
            parts.append(code[last:start])
            parts.append(out)
            last = end
    if not parts:
        return code
    parts.append(code[last:])
    return "".join(parts)


class Scrubber:
    """Scrubs lab commands (per device type) and code; ``on_scrub(kind)`` is called per secret.

    >>> Scrubber().command("linux", "sshpass -p s3cr3t ssh admin@r1")
    'sshpass -p <redacted:cli_password> ssh admin@r1'
    """

    __slots__ = ("_clean", "_on_scrub")

    def __init__(self, on_scrub: Callable[[str], None] | None = None) -> None:
        self._on_scrub = on_scrub
        # Command lines seen to hold nothing secret, per device type: the same lines come back all the
        # time ("show ip int brief"). Only a line published exactly as typed is kept (no rule replaced
        # anything, and the caller passes remember=False for a line it changes further), so the memo
        # holds no secret, no student id and nothing that is not on the topic anyway; a line with a
        # secret, or any digest of it, is never kept. Bounded: at most 4096 lines of at most 512
        # characters per device type, emptied when full.
        self._clean: dict[str, dict[str, None]] = {d: {} for d in command_rules.RULES}

    def _report(self, counts: list[str]) -> None:
        if self._on_scrub is not None:
            for kind in counts:
                self._on_scrub(kind)

    def command(self, device_type: str, command: str, *, remember: bool = True) -> str:
        """One CLI line with its secrets replaced; unchanged when nothing looks secret.

        ``remember=False``: the caller changes the line further before publishing it (it holds the
        submitter's id), so it must not be kept even when it holds no secret.
        """
        clean = self._clean.get(device_type) if remember else None
        if clean is not None and command in clean:
            return command
        trigger, rules = command_rules.RULES.get(device_type, command_rules.RULES["cisco_ios"])
        low = command.lower()
        for w in trigger:
            if w in low:
                break
        else:
            _remember(clean, command)
            return command
        counts: list[str] = []
        out = _apply(rules, command, counts, low)
        if counts:
            self._report(counts)
        elif out == command:
            _remember(clean, command)
        return out

    def code(self, language: str, code: str) -> str:
        """Source text with credentials, tokens, private keys and e-mail addresses replaced.

        Not memoised: submissions rarely repeat byte for byte, and a memo would keep students' code.
        """
        low = code.lower()
        counts: list[str] = []
        out = code
        for w in code_rules.TRIGGER:
            if w in low:
                out = _apply(code_rules.RULES.get(language, code_rules.RULES["text"]), code, counts, low)
                if language == "python":
                    out = _scrub_literals(out, counts)
                else:
                    out = _apply(code_rules.IN_STRING_RULES, out, counts)
                break
        if language == "python":  # credentials passed by position: ConnectHandler(ip, host, user, pw)
            out = positional.scrub_positional(out, low, counts)
        self._report(counts)
        return out


_CLEAN_LINES = 4096
_CLEAN_LINE_CHARS = 512


def _remember(clean: dict[str, None] | None, line: str) -> None:
    """Note a line without secrets (bounded: a full memo is emptied, never grows)."""
    if clean is None or len(line) > _CLEAN_LINE_CHARS:
        return
    if len(clean) >= _CLEAN_LINES:
        clean.clear()  # one call: safe with threads that read or add meanwhile
    clean[line] = None
