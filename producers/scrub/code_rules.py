"""Secret patterns in code: credentials in assignments and arguments, token formats, e-mails.

Only the inside of a string literal (or a bare token) is replaced, so code that
compiled before still compiles, and a Jinja2 expression (``{{ vault_pw }}``)
is not a secret and stays.
"""

from __future__ import annotations

import re

from producers.scrub.command_rules import IN_STRING_RULES, RuleSet, build
from producers.scrub.tokens import TOKENS

__all__ = ["IN_STRING_RULES", "IN_STRING_TRIGGER", "RULES", "SENSITIVE_NAME", "STRING_LITERAL", "TRIGGER"]

SENSITIVE_NAME = re.compile(
    r"(?i:pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|token|apikey|credential|community|psk"
    r"|(?:auth\w*|shared|private|secret|access|api|encryption|signing)_?key)"
)
"""A name (group ``n`` of a rule) holding a credential; the engine checks it on each candidate."""
_NAME = r"(?P<n>\w+)"  # any identifier; SENSITIVE_NAME decides (one regex pass, no backtracking)
_STR = r"(?P<v>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"

_EMAIL = (("email", r"(?P<v>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"),)
_PYTHON = (
    ("credential", r"\b" + _NAME + r"(?:\s*:\s*[\w\[\], .|]+?)?\s*(?:==|=|:=)\s*[rRbBuUfF]{0,2}" + _STR),
    ("credential", r"[\"']" + _NAME + r"[\"']\s*:\s*[rRbBuUfF]{0,2}" + _STR),
    ("credential", r"\bauth\s*=\s*\(\s*(?:\"[^\"\n]*\"|'[^'\n]*')\s*,\s*" + _STR),  # requests auth=(u, p)
)
_YAML = (
    (
        "credential",
        r"^[ \t]*(?:-[ \t]+)?[\"']?" + _NAME + r"[\"']?[ \t]*:[ \t]+"
        r"(?P<v>\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|(?![{!|>&*\[])[^\s#][^\n#]*?)[ \t]*(?:#.*)?$",
    ),
)
_TEXT = (
    (
        "credential",
        r"[\"']?\b"
        + _NAME
        + r"[\"']?\s*[:=]\s*(?P<v>\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|(?![!|>&*])[^\s\"'{,;]+)",
    ),
)


def _compile(templates: tuple[tuple[str, str], ...]) -> RuleSet:
    return build(templates, ignore_case=False)


TRIGGER = (
    "pass", "pwd", "secret", "token", "key", "auth", "credential", "community", "psk", "bearer", "@", "://",
    "akia", "asia", "aiza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat", "glpat-", "xox", "$", "eyj",
)  # fmt: skip
"""Lower-case words of which code with a secret contains at least one (cheaper than any regex)."""
RULES: dict[str, RuleSet] = {
    "python": _compile(TOKENS + _PYTHON + _EMAIL),
    "yaml": _compile(TOKENS + _YAML + _EMAIL),
    "jinja2": _compile(TOKENS + _YAML + _TEXT + _EMAIL),
    "text": _compile(TOKENS + _YAML + _TEXT + _EMAIL),
}
"""Language -> ordered rules; :data:`IN_STRING_RULES` then run on string literals (python) or the text."""
IN_STRING_TRIGGER = ("pass", "secret", "key", "community", "psk", "token", "auth", "-p", "-u", "://", "$")
STRING_LITERAL = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
