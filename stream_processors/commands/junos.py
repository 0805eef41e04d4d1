"""Junos CLI: operational and configuration mode, the ``[edit …]`` path, schema-aware abbreviations.

State ``modes``: empty in operational mode, else ``("configuration", *edit_elements)`` where each
element is what one ``edit`` added (``exit`` undoes one ``edit``; ``up`` climbs one statement level).
"""

from __future__ import annotations

from stream_processors.commands.tree import Node, build, descend, graft, walk
from stream_processors.commands.vocab_exec import PIPES
from stream_processors.commands.vocab_junos import (
    CONFIGURATION,
    NAMED_STATEMENTS,
    NON_ROUTING_PROTOCOLS,
    OPERATIONAL,
    ROUTING_TOP,
    SCHEMA,
)

Outcome = tuple[str, str, str, tuple[str, ...], int]
MAX_DEPTH = 8
CONFIG = "configuration"


def _same(token: str) -> str:
    return token


OPERATIONAL_TREE = build(OPERATIONAL)
CONFIGURATION_TREE = build(CONFIGURATION)
SCHEMA_TREE = build(SCHEMA)
PIPE_TREE = build(PIPES["junos"])
_EMPTY = Node()
for _hierarchy in ("protocols", "routing-options"):
    graft(SCHEMA_TREE.kids["routing-instances"].arg or _EMPTY, _hierarchy, SCHEMA_TREE.kids[_hierarchy])
graft(OPERATIONAL_TREE.kids["show"], "configuration", SCHEMA_TREE)
_STATEMENT_VERBS = frozenset({"set", "delete", "activate", "deactivate", "protect", "unprotect", "annotate"})


def mode_name(modes: tuple[str, ...]) -> str:
    if not modes:
        return "operational"
    return CONFIG if len(modes) == 1 else f"{CONFIG} [edit {' '.join(modes[1:])}]"


def _category(words: list[str]) -> str:
    if not words or words[0] not in ROUTING_TOP:
        return "config"
    if words[0] == "protocols" and len(words) > 1 and words[1] in NON_ROUTING_PROTOCOLS:
        return "config"
    return "routing"


def _levels(words: list[str]) -> list[str]:
    levels: list[str] = []
    i = 0
    while i < len(words):
        named = words[i] in NAMED_STATEMENTS and i + 1 < len(words)
        levels.append(" ".join(words[i : i + 2]) if named else words[i])
        i += 2 if named else 1
    return levels


def _operational(toks: list[str], i: int) -> tuple[str, str, Node | None]:
    out, _, _, ann, matched = walk(OPERATIONAL_TREE, toks, i, _same)
    if not matched:
        return " ".join(toks[i:]), "other", None
    return " ".join(out), (ann.cat if ann is not None and ann.cat else "other"), ann


def run(modes: tuple[str, ...], toks: list[str]) -> Outcome:
    """Interpret one non-blank, pipe-free, help-free Junos command line."""
    mode = mode_name(modes)
    if not modes:
        normalized, category, ann = _operational(toks, 0)
        entered = ann is not None and ann.action == "configure"
        return normalized, category, mode, ((CONFIG,) if entered else ()), 15
    verb = CONFIGURATION_TREE.index.get(toks[0].lower())
    tops = 0
    while verb == "top" and len(toks) > tops + 1:  # "top edit …" runs the command from [edit]
        tops += 1
        verb = CONFIGURATION_TREE.index.get(toks[tops].lower())
    if tops:
        normalized, category, _, new, _ = run((CONFIG,), toks[tops:])
        return f"{'top ' * tops}{normalized}", category, mode, new, 15
    if verb is None:
        return " ".join(toks), "other", mode, modes, 15
    path = " ".join(modes[1:]).split()
    if verb in _STATEMENT_VERBS or verb in ("edit", "show"):
        start = descend(SCHEMA_TREE, path) or _EMPTY
        out = walk(start, toks, 1, _same)[0]
        normalized = " ".join([verb, *out])
        if verb == "show":
            return normalized, "show", mode, modes, 15
        new = (*modes, " ".join(out)) if verb == "edit" and out and len(modes) < MAX_DEPTH else modes
        return normalized, _category(path + out), mode, new, 15
    if verb == "run":
        normalized, category, _ = _operational(toks, 1)
        return f"run {normalized}".rstrip(), category, mode, modes, 15
    out, _, _, ann, _ = walk(CONFIGURATION_TREE, toks, 0, _same)
    normalized = " ".join(out)
    category = ann.cat if ann is not None and ann.cat else "other"
    action = ann.action if ann is not None else None
    new = modes
    if action == "leave":
        new = ()
    elif action == "exit":
        new = modes[:-1] if len(modes) > 1 else ()
    elif action == "top":
        new = (CONFIG,)
    elif action == "up":
        steps = (
            int(out[1]) if len(out) > 1 and out[1].isascii() and out[1].isdigit() and len(out[1]) < 3 else 1
        )
        levels = _levels(path)
        new = (CONFIG, *levels[: max(len(levels) - steps, 0)])
    return normalized, category, mode, new, 15
