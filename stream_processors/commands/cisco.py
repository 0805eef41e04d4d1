"""Cisco-style CLIs (IOS, NX-OS, EOS): the mode stack, unique-prefix expansion and categorisation.

The state is ``modes`` (config modes below privileged EXEC, innermost last) plus the privilege level.
A command is looked up in the current mode, then in each enclosing mode (IOS leaves a sub-mode for a
command it does not know there), then in EXEC (a ``show`` typed without ``do``). Commands that only
exist in another mode are categorised by what the student meant; the mode does not change.
"""

from __future__ import annotations

from stream_processors.commands.ifnames import expander
from stream_processors.commands.tree import Node, build, walk
from stream_processors.commands.vocab_config import CONFIG_TEXT, ROUTING_MODES, SUBMODES
from stream_processors.commands.vocab_exec import EXEC, PIPES

# (normalized, category, mode it ran in, new modes, new privilege)
Outcome = tuple[str, str, str, tuple[str, ...], int]
_EXEC_LEVEL, _CONFIG_INTENT = -1, -2
_CTRL_Z = frozenset({"^z", "\x1a"})


class Vocabulary:
    """Every compiled tree of one platform; built once at import."""

    __slots__ = ("platform", "exec", "config", "modes", "expand", "pipes", "initial_priv")

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.exec = build(EXEC, platform)
        self.config = build(CONFIG_TEXT, platform)
        self.modes: dict[str, Node] = {"config": self.config}
        self.modes.update({name: build(text, platform) for name, text in SUBMODES.items()})
        self.expand = expander(platform)
        self.pipes = build(PIPES[platform], platform)
        self.initial_priv = 15 if platform == "nxos" else 1  # NX-OS logs straight into "#"


VOCABULARIES = {name: Vocabulary(name) for name in ("ios", "nxos", "eos")}


def shown(mode: str) -> str:
    """The mode as reported: ``config-router:ospf`` is ``config-router``."""
    return mode.partition(":")[0]


def base_mode(priv: int) -> str:
    return "exec" if priv <= 1 else "privileged"


def _default_category(mode: str) -> str:
    return "routing" if shown(mode) in ROUTING_MODES else "config"


def _is_debug(ann: Node | None) -> bool:
    return ann is not None and ann.cat == "debug"


def _level_number(tok: str | None, default: int) -> int:
    if tok is None or not (tok.isascii() and tok.isdigit()) or len(tok) > 2:
        return default
    return min(int(tok), 15)


def _exec_effect(v: Vocabulary, ann: Node | None, out: list[str], priv: int) -> tuple[tuple[str, ...], int]:
    action = ann.action if ann is not None else None
    arg = out[1] if len(out) > 1 else None
    if action == "enable":
        return (), max(_level_number(arg, 15), 2)
    if action == "disable":
        return (), _level_number(arg, 1)
    if action == "exit":
        return (), v.initial_priv  # logout: the next login starts afresh
    if ann is not None and ann.push:
        return (ann.push,), max(priv, 15)  # "conf t" needs privilege: the student had it
    return (), priv


def run(v: Vocabulary, modes: tuple[str, ...], priv: int, toks: list[str]) -> Outcome:
    """Interpret one non-blank, pipe-free, help-free command line."""
    current = modes[-1] if modes else base_mode(priv)
    mode = shown(current)
    first = toks[0].lower()
    if first in _CTRL_Z:
        return "end", "other", mode, (), priv
    if first[0] == "!":
        return " ".join(toks), "other", mode, modes, priv
    if first == "do":
        if len(toks) == 1:
            return "do", "other", mode, modes, priv
        out, _, _, ann, matched = walk(v.exec, toks, 1, v.expand)
        category = ann.cat if ann is not None and ann.cat and matched else "other"
        return " ".join(["do", *out]), category or "other", mode, modes, priv
    negated = first in ("no", "default") and len(toks) > 1
    start = 1 if negated else 0
    if modes:
        levels = [(k, v.modes.get(modes[k], v.config)) for k in range(len(modes) - 1, -1, -1)]
        levels.append((_EXEC_LEVEL, v.exec))
    else:
        levels = [(_EXEC_LEVEL, v.exec), (_CONFIG_INTENT, v.config)]
    best = None
    for level, root in levels:
        result = walk(root, toks, start, v.expand)
        if not result[4] or negated and level == _EXEC_LEVEL and not _is_debug(result[3]):
            continue  # EXEC only negates debugging ("no debug all"); "no sh" is not "no show"
        if result[1]:
            best = (level, result)
            break
        if best is None or result[2] > best[1][2]:
            best = (level, result)
    if best is None:
        category = _default_category(current) if modes else "other"
        return " ".join(toks), category, mode, modes, priv
    level, (out, _, _, ann, _) = best
    normalized = " ".join([toks[0].lower(), *out] if negated else out)
    if level < 0:
        category = ann.cat if ann is not None and ann.cat else ("other" if level == _EXEC_LEVEL else "config")
        if level == _EXEC_LEVEL and not modes and not negated:
            new_modes, priv = _exec_effect(v, ann, out, priv)
            return normalized, category, mode, new_modes, priv
        return normalized, category, mode, modes, priv
    category = ann.cat if ann is not None and ann.cat else _default_category(modes[level])
    new = modes[: level + 1]
    if ann is not None and not negated:
        if ann.action == "exit":
            new = new[:-1]
        elif ann.action == "end":
            new = ()
        if ann.push:
            push = ann.push
            if push == "config-if" and any("." in t for t in out[1:]):
                push = "config-subif"
            new = (*new, push)
    return normalized, category, mode, new, priv


def normalize_any(v: Vocabulary, toks: list[str]) -> str:
    """Stateless expansion: the first mode (EXEC, config, then sub-modes) where the whole line parses."""
    first = toks[0].lower()
    if first == "do" and len(toks) > 1:
        return " ".join(["do", *walk(v.exec, toks, 1, v.expand)[0]])
    start = 1 if first in ("no", "default") and len(toks) > 1 else 0
    best = None
    for root in (v.exec, *v.modes.values()):
        result = walk(root, toks, start, v.expand)
        if result[4] and result[1]:
            best = result
            break
        if result[4] and (best is None or result[2] > best[2]):
            best = result
    out = best[0] if best is not None else toks[start:]
    return " ".join([first, *out] if start else out)
