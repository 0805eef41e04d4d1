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

_CALLS: tuple[tuple[str, tuple[int, ...]], ...] = (
    (r"\bConnectHandler\s*\(", (3, 4)),
    (r"\bget_network_driver\s*\([^()\n]*\)\s*\(", (2,)),
    (r"\.(?:connect|connect_ssh)\s*\(", (3,)),
    (r"\b(?:Scrapli|(?:Async)?(?:IOSXE|IOSXR|NXOS|EOS|Junos|Generic|Network)Driver)\s*\(", (3,)),
    (r"\bHTTP(?:Basic|Digest|Proxy)Auth\s*\(", (1,)),
    (r"\bauth\s*=\s*\(", (1,)),
    (r"\bDevice\s*\(", (2,)),
    (r"\blogin\s*\(", (1,)),
)
_CALL_RE = re.compile("|".join(f"(?P<c{i}>{p})" for i, (p, _) in enumerate(_CALLS)))
_DRIVER_NAME = re.compile(r"\b(\w+)\s*=\s*(?:\w+\.)*get_network_driver\s*\(")
_STRING = re.compile(r"(?P<prefix>[rRbBuU]{0,2})(?P<q>'''|\"\"\"|'|\")")
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def _args(code: str, at: int) -> list[tuple[int, int, bool]]:
    """Positional arguments of the call whose ``(`` is just before ``at``: (start, end, is_literal).

    A plain string literal (not an f-string, not concatenated) is ``is_literal``; reading stops at the
    first keyword argument, ``*``/``**`` unpacking, or the call's closing parenthesis.
    """
    out: list[tuple[int, int, bool]] = []
    depth: list[str] = []
    start, i, n = at, at, len(code)
    literal_only = True  # the argument so far is one string literal
    seen_literal = False
    while i < n:
        ch = code[i]
        m = _STRING.match(code, i) if ch in "'\"rRbBuU" else None
        if m and (m.group("prefix") == "" or not (code[i - 1 : i].isalnum() or code[i - 1 : i] == "_")):
            q = m.group("q")
            end = code.find(q, m.end())
            while end > 0 and len(q) == 1 and _escaped(code, end):
                end = code.find(q, end + 1)
            if end < 0:
                return out
            if not depth and code[start:i].strip() == "" and not seen_literal:
                seen_literal = True
            else:
                literal_only = False
            i = end + len(q)
            continue
        if ch == "#":
            nl = code.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if ch in _CLOSE:
            depth.append(_CLOSE[ch])
            literal_only = False
        elif ch in ")]}":
            if not depth:  # the call's closing parenthesis
                if code[start:i].strip():
                    out.append((start, i, literal_only and seen_literal))
                return out
            depth.pop()
        elif not depth and ch == ",":
            out.append((start, i, literal_only and seen_literal))
            start, literal_only, seen_literal = i + 1, True, False
        elif not depth and ch == "=" and code[i + 1 : i + 2] != "=" and code[i - 1 : i] not in "=!<>":
            return out  # a keyword argument: the positional ones are over
        elif not depth and ch == "*" and code[start:i].strip() == "":
            return out
        elif not ch.isspace():
            literal_only = False
        i += 1
    return out


def _escaped(code: str, at: int) -> bool:
    backslashes = 0
    while at - 1 - backslashes >= 0 and code[at - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def scrub_positional(code: str, low: str, counts: list[str]) -> str:
    """``code`` with string literals in the secret positions of the known calls replaced."""
    if not any(w in low for w in TRIGGER):
        return code
    spans: list[tuple[int, int]] = []
    drivers = {m.group(1) for m in _DRIVER_NAME.finditer(code)}
    calls: list[tuple[int, tuple[int, ...]]] = []
    for m in _CALL_RE.finditer(code):
        which = int(next(k for k, v in m.groupdict().items() if v is not None)[1:])
        calls.append((m.end(), _CALLS[which][1]))
    for name in drivers:
        calls += [(m.end(), (2,)) for m in re.finditer(rf"\b{re.escape(name)}\s*\(", code)]
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
