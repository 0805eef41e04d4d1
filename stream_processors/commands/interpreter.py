"""``interpret()``: one lab CLI line plus the session's CLI state in, normalised and categorised out.

Pure and fast: no I/O, no logging, every table compiled at import, a bounded cache for repeated
lines (students type ``sh ip int br`` a lot). Never raises for a ``str`` command.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from stream_processors.commands import cisco, junos, linux
from stream_processors.commands.result import InterpretResult
from stream_processors.commands.tree import Node

_CISCO = {"cisco_ios": "ios", "cisco_nxos": "nxos", "arista_eos": "eos"}
_MAX_DEPTH = 8
_CACHED_LENGTH = 256
# (normalized, category, mode, new modes, new privilege)
_Outcome = tuple[str, str, str, tuple[str, ...], int]


def _kind(device_type: object) -> str:
    """Unknown device types are read as IOS, the most common lab platform."""
    if isinstance(device_type, str) and (device_type in _CISCO or device_type in ("juniper_junos", "linux")):
        return device_type
    return "cisco_ios"


def _initial_priv(kind: str) -> int:
    return cisco.VOCABULARIES[_CISCO[kind]].initial_priv if kind in _CISCO else 15


def _load(kind: str, state: object) -> tuple[tuple[str, ...], int]:
    """The validated (modes, privilege) of ``state``; anything malformed starts a new session."""
    fresh: tuple[tuple[str, ...], int] = ((), _initial_priv(kind))
    if not isinstance(state, dict):
        return fresh
    modes, priv = state.get("modes", []), state.get("priv", fresh[1])
    if not isinstance(modes, list | tuple) or len(modes) > _MAX_DEPTH or type(priv) is not int:
        return fresh
    if not all(isinstance(m, str) and len(m) <= 512 for m in modes) or not 0 <= priv <= 15:
        return fresh
    if kind in _CISCO:
        known = cisco.VOCABULARIES[_CISCO[kind]].modes
        if not all(m in known for m in modes):
            return fresh
    elif kind == "linux" and modes or kind == "juniper_junos" and modes and modes[0] != junos.CONFIG:
        return fresh
    return tuple(modes), priv


def _mode(kind: str, modes: tuple[str, ...], priv: int) -> str:
    if kind == "linux":
        return "shell"
    if kind == "juniper_junos":
        return junos.mode_name(modes)
    return cisco.shown(modes[-1]) if modes else cisco.base_mode(priv)


def _split_pipes(line: str, kind: str) -> list[str]:
    if kind == "cisco_ios":
        return line.split("|", 1)  # IOS: everything after the first pipe keyword is one regex
    if '"' not in line:
        return line.split("|")
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "|" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _pipe(segment: str, tree: Node) -> str:
    words = segment.split(None, 1)
    if not words:
        return ""
    keyword = tree.index.get(words[0].lower())
    if keyword is None:
        return segment.strip()
    rest = words[1].strip() if len(words) > 1 else ""
    node = tree.kids[keyword]
    if node.kids and rest:
        sub = rest.split(None, 1)
        second = node.index.get(sub[0].lower())
        if second is not None:
            keyword, rest = f"{keyword} {second}", (sub[1].strip() if len(sub) > 1 else "")
    return f"{keyword} {rest}".rstrip()


def _vtysh(commands: list[str]) -> str:
    modes: tuple[str, ...] = ()
    category = "other"
    for command in commands:
        if command.split():
            _, category, _, modes, _ = cisco.run(cisco.VOCABULARIES["ios"], modes, 15, command.split())
    return category


def _line(kind: str, modes: tuple[str, ...], priv: int, line: str) -> _Outcome:
    """A non-blank, help-free line: the left of any pipe decides; pipe keywords are expanded."""
    parts = _split_pipes(line, kind)
    toks = parts[0].split()
    if not toks:
        return " ".join(line.split()), "other", _mode(kind, modes, priv), modes, priv
    if kind == "juniper_junos":
        outcome = junos.run(modes, toks)
        tree = junos.PIPE_TREE
    else:
        vocabulary = cisco.VOCABULARIES[_CISCO[kind]]
        outcome = cisco.run(vocabulary, modes, priv, toks)
        tree = vocabulary.pipes
    if len(parts) == 1:
        return outcome
    normalized = outcome[0] + "".join(f" | {_pipe(p, tree)}" for p in parts[1:])
    return normalized.rstrip(), outcome[1], outcome[2], outcome[3], outcome[4]


def _interpret(kind: str, modes: tuple[str, ...], priv: int, command: str) -> _Outcome:
    mode = _mode(kind, modes, priv)
    if kind == "linux":
        normalized = " ".join(command.split())
        return normalized, linux.categorize(normalized, _vtysh), mode, modes, priv
    line = command.strip()
    if not line:
        return "", "other", mode, modes, priv
    if line[-1] == "?":  # context help: nothing runs
        body = line[:-1]
        if not body or body[-1].isspace() or body[-1] == "?":
            head = _line(kind, modes, priv, body)[0] if body.strip() else ""
            return f"{head} ?".lstrip(), "other", mode, modes, priv
        words = body.split()
        head = _line(kind, modes, priv, " ".join(words[:-1]))[0] if len(words) > 1 else ""
        return f"{head} {words[-1]}?".lstrip(), "other", mode, modes, priv
    return _line(kind, modes, priv, line)


_cached = lru_cache(maxsize=32768)(_interpret)


def interpret(state: dict[str, Any] | None, device_type: str, command: str) -> InterpretResult:
    """Normalise and categorise ``command`` typed in the session whose CLI state is ``state``."""
    if not isinstance(command, str):
        raise TypeError("command must be a str")
    kind = _kind(device_type)
    modes, priv = _load(kind, state)
    run = _cached if len(command) <= _CACHED_LENGTH else _interpret
    normalized, category, mode, new_modes, new_priv = run(kind, modes, priv, command)
    return InterpretResult(normalized, category, mode, {"modes": list(new_modes), "priv": new_priv})  # type: ignore[arg-type]


def normalize(command: str, device_type: str) -> str:
    """Stateless normalisation: abbreviations expanded as the first mode that accepts the line would."""
    if not isinstance(command, str):
        raise TypeError("command must be a str")
    kind = _kind(device_type)
    line = " ".join(command.split())
    if kind == "linux" or not line or line[-1] == "?":
        return interpret(None, kind, command).normalized if kind != "linux" else line
    parts = _split_pipes(line, kind)
    toks = parts[0].split()
    if not toks:
        return line
    if kind == "juniper_junos":
        verb = junos.CONFIGURATION_TREE.index.get(toks[0].lower())
        config_first = verb is not None and verb not in ("show", "exit", "quit", "help")
        normalized = junos.run((junos.CONFIG,) if config_first else (), toks)[0]
        tree = junos.PIPE_TREE
    else:
        vocabulary = cisco.VOCABULARIES[_CISCO[kind]]
        normalized, tree = cisco.normalize_any(vocabulary, toks), vocabulary.pipes
    return (normalized + "".join(f" | {_pipe(p, tree)}" for p in parts[1:])).rstrip()
