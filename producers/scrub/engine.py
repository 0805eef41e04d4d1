"""The scrubbing engine: a cheap trigger check, then precompiled rules in order."""

from __future__ import annotations

import re
from collections.abc import Callable

from producers.scrub import code_rules, command_rules
from producers.scrub.command_rules import RuleSet

__all__ = ["Rule", "Scrubber", "marker"]


def marker(kind: str) -> str:
    """The fixed text that replaces a secret of one kind."""
    return f"<redacted:{kind}>"


Rule = tuple[str, re.Pattern[str], tuple[str, ...] | None]
"""``(kind, pattern, needles)``: group ``v`` is the secret; ``kind`` names it in metrics; a match
contains one of the lower-case ``needles`` (None: always try)."""


_NOT_SECRETS = ("<redacted:", "{{", "{%")


def _replace_value(kind: str, counts: list[str]) -> Callable[[re.Match[str]], str]:
    mark = marker(kind)

    def repl(m: re.Match[str]) -> str:
        if "n" in m.re.groupindex and code_rules.SENSITIVE_NAME.search(m.group("n")) is None:
            return m.group(0)
        value = m.group("v")
        quote = value[0] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else ""
        inner = value[1:-1] if quote else value
        if not inner or inner.startswith(_NOT_SECRETS):
            return m.group(0)
        counts.append(kind)
        start, end = m.span("v")
        base = m.start(0)
        text = m.group(0)
        return f"{text[: start - base]}{quote}{mark}{quote}{text[end - base :]}"

    return repl


def _apply(rules: RuleSet, text: str, counts: list[str], low: str | None = None) -> str:
    # Which rules may match is decided on the original text: a marker never introduces a secret.
    for i in rules.active(text.lower() if low is None else low):
        kind, pattern, _ = rules.rules[i]
        if pattern.search(text) is not None:
            text = pattern.sub(_replace_value(kind, counts), text)
    return text


def _in_string(literal: str, counts: list[str]) -> str:
    low = literal.lower()
    if not any(w in low for w in code_rules.IN_STRING_TRIGGER):
        return literal
    return _apply(code_rules.IN_STRING_RULES, literal, counts, low)


class Scrubber:
    """Scrubs lab commands (per device type) and code; ``on_scrub(kind)`` is called per secret.

    >>> Scrubber().command("linux", "sshpass -p s3cr3t ssh admin@r1")
    'sshpass -p <redacted:cli_password> ssh admin@r1'
    """

    __slots__ = ("_on_scrub",)

    def __init__(self, on_scrub: Callable[[str], None] | None = None) -> None:
        self._on_scrub = on_scrub

    def _report(self, counts: list[str]) -> None:
        if self._on_scrub is not None:
            for kind in counts:
                self._on_scrub(kind)

    def command(self, device_type: str, command: str) -> str:
        """One CLI line with its secrets replaced; unchanged when nothing looks secret."""
        trigger, rules = command_rules.RULES.get(device_type, command_rules.RULES["cisco_ios"])
        low = command.lower()
        if not any(w in low for w in trigger):
            return command
        counts: list[str] = []
        out = _apply(rules, command, counts, low)
        self._report(counts)
        return out

    def code(self, language: str, code: str) -> str:
        """Source text with credentials, tokens, private keys and e-mail addresses replaced."""
        low = code.lower()
        if not any(w in low for w in code_rules.TRIGGER):
            return code
        counts: list[str] = []
        out = _apply(code_rules.RULES.get(language, code_rules.RULES["text"]), code, counts, low)
        if language == "python":
            out = code_rules.STRING_LITERAL.sub(lambda m: _in_string(m.group(0), counts), out)
        else:
            out = _apply(code_rules.IN_STRING_RULES, out, counts)
        self._report(counts)
        return out
