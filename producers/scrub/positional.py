"""Credentials passed by position to the network-automation calls the course teaches.

``ConnectHandler("10.0.0.1", "", "admin", "cisco123")`` names no argument, so the keyword rules
(``password="..."``) do not see it. Each call below is known with the positions of its secret
arguments; a string literal in one of those positions is replaced like a keyword one. Arguments are
read with a small tokenizer (nesting, string literals, the first keyword argument ends the positional
ones), not a regex, so a comma inside a string or a nested call does not shift the count.

=========================================================  ==========================================
call                                                       secret positions (0-based)
=========================================================  ==========================================
netmiko ``ConnectHandler(ip, host, username, password,     3, 4
secret)``
napalm ``get_network_driver("ios")(hostname, username,     2 (also through a name bound to
password)``                                                ``get_network_driver(...)``)
paramiko ``client.connect(hostname, port, username,        3 (also ncclient ``manager.connect``,
password)``                                                ``connect_ssh``, pyeapi ``client.connect``)
scrapli ``IOSXEDriver(host, port, auth_username,           3
auth_password)`` and the other drivers
requests ``HTTPBasicAuth(user, password)``,                1
``HTTPDigestAuth``, ``HTTPProxyAuth``; ``auth=(user,
password)``, ``x.auth = (user, password)``
``Device(host, user, password)`` (junos-eznc, pyeapi)      2
``login(user, password)`` (ftplib, smtplib, imaplib,       1
telnet helpers)
=========================================================  ==========================================
"""

from __future__ import annotations

import re

from producers.scrub.command_rules import marker

__all__ = ["TRIGGER", "scrub_positional"]

TRIGGER = ("connect", "driver", "auth", "device", "login", "scrapli")
"""Lower-case words one of which is in any code this pass can change (cheaper than the regex)."""

_CALLS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    # (lower-case needle the code must contain, pattern starting with a literal, secret positions)
    ("connecthandler", r"ConnectHandler\s*\(", (3, 4)),
    ("get_network_driver", r"get_network_driver\s*\([^()\n]*\)\s*\(", (2,)),
    (".connect", r"\.connect(?:_ssh)?\s*\(", (3,)),
    ("scrapli", r"Scrapli\s*\(", (3,)),
    ("driver", r"(?:Async)?(?:IOSXE|IOSXR|NXOS|EOS|Junos|Generic|Network)Driver\s*\(", (3,)),
    ("auth(", r"HTTP(?:Basic|Digest|Proxy)Auth\s*\(", (1,)),
    ("auth", r"auth\s*=\s*\(", (1,)),
    ("device", r"Device\s*\(", (2,)),
    ("login", r"login\s*\(", (1,)),
)
_COMPILED = tuple((needle, re.compile(p), pos) for needle, p, pos in _CALLS)
_DRIVER_NAME = re.compile(r"(\w+)[ \t]*=[ \t]*(?:\w+\.)*get_network_driver\s*\(")
_STRING = re.compile(r"(?P<prefix>[rRbBuU]{0,2})(?P<q>\'\'\'|\"\"\"|\'|\")")
_TOKEN = re.compile(
    r"""(?P<s>[rRbBuU]{0,2}(?:'''(?:[^\\]|\\.)*?'''|\"\"\"(?:[^\\]|\\.)*?\"\"\""""
    r"""|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"))"""
    r"|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<comma>,)|(?P<kw>(?<![=!<>])=(?!=))|(?P<star>\*)"
    r"|(?P<skip>\s+|#[^\n]*)|(?P<other>[^\s'\"()\[\]{},=*#]+|.)",
    re.DOTALL,
)


def _args(code: str, at: int) -> list[tuple[int, int, bool]]:
    """Positional arguments of the call whose ``(`` is just before ``at``: (start, end, is_literal).

    A plain string literal (not an f-string, not concatenated) is ``is_literal``; reading stops at the
    first keyword argument, ``*``/``**`` unpacking, or the call's closing parenthesis.
    """
    out: list[tuple[int, int, bool]] = []
    depth = 0
    start = at
    tokens = 0  # significant tokens in the current argument
    literal = False  # the current argument's only token is a string literal
    for m in _TOKEN.finditer(code, at):
        kind = m.lastgroup
        if kind == "skip":
            continue
        if depth == 0:
            if kind == "close":
                if tokens:
                    out.append((start, m.start(), literal and tokens == 1))
                return out
            if kind == "comma":
                out.append((start, m.start(), literal and tokens == 1))
                start, tokens, literal = m.end(), 0, False
                continue
            if kind == "kw" or (kind == "star" and tokens == 0):
                return out  # a keyword argument or unpacking: the positional ones are over
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
        tokens += 1
        literal = kind == "s" and tokens == 1
    return out


def scrub_positional(code: str, low: str, counts: list[str]) -> str:
    """``code`` with string literals in the secret positions of the known calls replaced."""
    if not any(w in low for w in TRIGGER):
        return code
    spans: list[tuple[int, int]] = []
    calls: list[tuple[int, tuple[int, ...]]] = []
    for needle, pattern, positions in _COMPILED:
        if needle in low:
            for m in pattern.finditer(code):
                before = code[m.start() - 1 : m.start()]
                if needle == ".connect" or not (before.isalnum() or before == "_"):
                    calls.append((m.end(), positions))
    if "get_network_driver" in low:
        for name in {m.group(1) for m in _DRIVER_NAME.finditer(code)}:
            calls += [(m.end(), (2,)) for m in re.finditer(rf"(?<!\w){re.escape(name)}\s*\(", code)]
    for at, positions in calls:
        args = _args(code, at)
        for p in positions:
            if p < len(args) and args[p][2]:
                spans.append(_inner(code, args[p][0], args[p][1]))
    spans = sorted({s for s in spans if s[1] > s[0]})
    if not spans:
        return code
    parts: list[str] = []
    last = 0
    mark = marker("credential")
    for start, end in spans:
        value = code[start:end]
        if start < last or value.startswith(("<redacted:", "{{", "{%")):
            continue
        counts.append("credential")
        parts += [code[last:start], mark]
        last = end
    parts.append(code[last:])
    return "".join(parts)


def _inner(code: str, start: int, end: int) -> tuple[int, int]:
    """The inside of the string literal between ``start`` and ``end`` (quotes and prefix off)."""
    text = code[start:end]
    lead = len(text) - len(text.lstrip())
    m = _STRING.match(code, start + lead)
    if m is None:
        return (0, 0)
    q = m.group("q")
    close = code.rfind(q, m.end(), end)
    return (m.end(), close) if close >= m.end() else (0, 0)
