"""Secret patterns in code: credentials in assignments and arguments, token formats, e-mails.

Only the inside of a string literal (or a bare token) is replaced, so code that
compiled before still compiles, and a Jinja2 expression (``{{ vault_pw }}``)
is not a secret and stays.
"""

from __future__ import annotations

import re

from producers.scrub.command_rules import IN_STRING_RULES, RuleSet, build
from producers.scrub.tokens import TOKENS

__all__ = [
    "IN_STRING_RULES",
    "IN_STRING_TRIGGER",
    "IN_STRING_TRIGGER_RE",
    "RULES",
    "SENSITIVE_NAME",
    "STRING_LITERAL",
    "TRIGGER",
    "is_sensitive_name",
]

SENSITIVE_NAME = re.compile(
    r"(?i:pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|token|apikey|credential|community|psk"
    r"|(?:auth\w*|shared|private|secret|access|api|encryption|signing)_?key)"
)
"""A name (group ``n`` of a rule) holding a credential; the engine checks it on each candidate."""
_SENSITIVE_WORD = re.compile("pass|pwd|secret|token|key|credential|community|psk")
"""One of these is in every lower-cased ASCII name that SENSITIVE_NAME matches."""


def is_sensitive_name(name: str) -> bool:
    """``SENSITIVE_NAME.search(name)``, with a cheap no for the many ASCII names without a credential word.

    Case-insensitive ``re`` also folds a few non-ASCII letters (long s, Kelvin sign) that ``str.lower``
    leaves, so a non-ASCII name always gets the full regex.
    """
    if name.isascii() and _SENSITIVE_WORD.search(name.lower()) is None:
        return False
    return SENSITIVE_NAME.search(name) is not None


_NAME = r"(?P<n>\w++)"
"""Any identifier, whole (possessive: what follows a name is never a word character, so giving
characters back cannot make a rule match, and trying that was most of a rule's time); the engine
checks it with SENSITIVE_NAME."""
# A string literal on one line with backslash escapes, unrolled and possessive: the same strings as
# the plain form (quote, then any non-quote/backslash/newline or backslash-escape, then quote); a
# literal ends only at its first unescaped quote, so nothing is ever given back, and a regex group
# entered per character was most of a scan's time.
_DQ = r"\"[^\"\\\n]*+(?:\\.[^\"\\\n]*+)*+\""
_SQ = r"'[^'\\\n]*+(?:\\.[^'\\\n]*+)*+'"
_STR = r"(?P<v>" + _DQ + "|" + _SQ + ")"

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
        r"(?P<v>" + _DQ + r"|'[^'\n]*'|(?![{!|>&*\[])[^\s#][^\n#]*?)[ \t]*(?:#.*)?$",
    ),
)
_TEXT = (
    (
        "credential",
        r"[\"']?\b" + _NAME + r"[\"']?\s*[:=]\s*(?P<v>" + _DQ + r"|'[^'\n]*'|(?![!|>&*])[^\s\"'{,;]+)",
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
IN_STRING_TRIGGER_RE = re.compile("|".join(re.escape(w) for w in IN_STRING_TRIGGER))
"""Whether lower-case text contains one of :data:`IN_STRING_TRIGGER` (one scan instead of one per word)."""
STRING_LITERAL = re.compile(_DQ + "|" + _SQ)
