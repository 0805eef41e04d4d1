"""Secret patterns in code: credentials in assignments and arguments, token formats, e-mails.

Only the inside of a string literal (or a bare token) is replaced, so code that
compiled before still compiles, and a Jinja2 expression (``{{ vault_pw }}``)
is not a secret and stays.
"""

from __future__ import annotations

import re

from producers.scrub.command_rules import IN_STRING_RULES, Rules
from producers.scrub.tokens import TOKENS

__all__ = ["IN_STRING_RULES", "IN_STRING_TRIGGER", "RULES", "STRING_LITERAL", "TRIGGER"]

_NAME = (
    r"(?:\w*?(?i:pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|token|apikey|credential|community|psk"
    r"|(?:auth\w*|shared|private|secret|access|api|encryption|signing)_?key)\w*)"
)
_STR = r"(?P<v>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"

_EMAIL = (("email", r"(?P<v>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"),)
_PYTHON = (
    ("credential", r"\b" + _NAME + r"(?:\s*:\s*[\w\[\], .|]+?)?\s*(?:==|=|:=)\s*[rRbBuUfF]{0,2}" + _STR),
    ("credential", r"[\"']" + _NAME + r"[\"']\s*:\s*[rRbBuUfF]{0,2}" + _STR),
)
_PYTHON += (("credential", r"\bauth\s*=\s*\(\s*(?:\"[^\"\n]*\"|'[^'\n]*')\s*,\s*" + _STR),)
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


def _compile(templates: tuple[tuple[str, str], ...]) -> Rules:
    return tuple(
        (kind, re.compile(t, re.MULTILINE | re.DOTALL * (kind == "private_key"))) for kind, t in templates
    )


TRIGGER = re.compile(
    r"(?i:pass|pwd|secret|token|key|auth|credential|community|psk|bearer)|@|://|AKIA|ASIA|AIza|gh[pousr]_|"
    r"glpat-|xox|\$\d\$|eyJ"
)
RULES: dict[str, Rules] = {
    "python": _compile(TOKENS + _PYTHON + _EMAIL),
    "yaml": _compile(TOKENS + _YAML + _EMAIL),
    "jinja2": _compile(TOKENS + _YAML + _TEXT + _EMAIL),
    "text": _compile(TOKENS + _YAML + _TEXT + _EMAIL),
}
"""Language -> ordered rules; :data:`IN_STRING_RULES` then run on string literals (python) or the text."""
IN_STRING_TRIGGER = re.compile(r"(?i:pass|secret|key|community|psk|token|auth|-p|-u|://|\$\d)")
STRING_LITERAL = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
