"""The scrubbing engine: a cheap trigger check, then precompiled rules in order."""

from __future__ import annotations

import re
from collections.abc import Callable

from producers.scrub import code_rules, command_rules

__all__ = ["Rule", "Scrubber", "marker"]


def marker(kind: str) -> str:
    """The fixed text that replaces a secret of one kind."""
    return f"<redacted:{kind}>"


Rule = tuple[str, re.Pattern[str]]
"""``(kind, pattern)``: the pattern's group ``v`` is the secret; ``kind`` names it in metrics."""


_NOT_SECRETS = ("<redacted:", "{{", "{%")


def _replace_value(kind: str, counts: list[str]) -> Callable[[re.Match[str]], str]:
    mark = marker(kind)

    def repl(m: re.Match[str]) -> str:
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


def _apply(rules: tuple[Rule, ...], text: str, counts: list[str]) -> str:
    for kind, pattern in rules:
        text = pattern.sub(_replace_value(kind, counts), text)
    return text


def _in_string(literal: str, counts: list[str]) -> str:
    if code_rules.IN_STRING_TRIGGER.search(literal) is None:
        return literal
    return _apply(code_rules.IN_STRING_RULES, literal, counts)


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
        if trigger.search(command) is None:
            return command
        counts: list[str] = []
        out = _apply(rules, command, counts)
        self._report(counts)
        return out

    def code(self, language: str, code: str) -> str:
        """Source text with credentials, tokens, private keys and e-mail addresses replaced."""
        if code_rules.TRIGGER.search(code) is None:
            return code
        counts: list[str] = []
        out = _apply(code_rules.RULES.get(language, code_rules.RULES["text"]), code, counts)
        if language == "python":
            out = code_rules.STRING_LITERAL.sub(lambda m: _in_string(m.group(0), counts), out)
        else:
            out = _apply(code_rules.IN_STRING_RULES, out, counts)
        self._report(counts)
        return out
