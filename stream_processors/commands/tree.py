"""Keyword trees: per-mode vocabularies compiled once for IOS-style unique-prefix matching.

A vocabulary is a small text DSL, one command path per line::

    @nxos,eos feature <arg> => config        # platform filter, annotation after "=>"
    router {ospf|eigrp} <arg> => routing >config-router:ospf !action
    %alias u undebug                         # a prefix the device resolves despite ambiguity

Slots: ``<if>`` an interface name (expanded), ``<arg>`` any one token, ``<num>`` digits only,
``<rest>`` the rest of the line verbatim, ``<ifs>`` the rest with interface names expanded.
The annotation (category, ``>mode`` to enter, ``!action``) goes on the line's last keyword.
Every node keeps a dict of all its keyword prefixes, so a lookup is one dict access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

CATEGORIES = frozenset({"show", "debug", "routing", "config", "other"})
IfExpander = Callable[[str], str]
# walk() result: (normalised tokens, fully parsed, tokens consumed, annotated node, first keyword matched)
WalkResult = tuple[list[str], bool, int, "Node | None", bool]


class Node:
    """One keyword (or slot) position; ``index`` maps every lowercase prefix to a keyword, or None."""

    __slots__ = ("kids", "index", "iface", "arg", "num", "rest", "cat", "push", "action")

    def __init__(self) -> None:
        self.kids: dict[str, Node] = {}
        self.index: dict[str, str | None] = {}
        self.iface: Node | None = None
        self.arg: Node | None = None
        self.num: Node | None = None
        self.rest = 0  # 1: rest verbatim, 2: rest with interface names expanded
        self.cat: str | None = None
        self.push: str | None = None
        self.action: str | None = None

    @property
    def leaf(self) -> bool:
        return (
            not self.kids and self.iface is None and self.arg is None and self.num is None and not self.rest
        )


def _expand_braces(line: str) -> Iterator[str]:
    start = line.find("{")
    if start < 0:
        yield line
        return
    depth, end = 0, start
    for end in range(start, len(line)):
        depth += {"{": 1, "}": -1}.get(line[end], 0)
        if depth == 0:
            break
    alts, depth, cur = [], 0, ""
    for ch in line[start + 1 : end]:
        if ch == "|" and depth == 0:
            alts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    alts.append(cur)
    for alt in alts:
        yield from _expand_braces(f"{line[:start]}{alt}{line[end + 1 :]}")


def _insert(root: Node, words: list[str], annotation: list[str]) -> None:
    node, last_kw = root, None
    for word in words:
        if word in ("<rest>", "<ifs>"):
            node.rest = 1 if word == "<rest>" else 2
            break
        if word in ("<if>", "<arg>", "<num>"):
            attr = {"<if>": "iface", "<arg>": "arg", "<num>": "num"}[word]
            child = getattr(node, attr) or Node()
            setattr(node, attr, child)
            node = child
            continue
        node = node.kids.setdefault(word, Node())
        last_kw = node
    if annotation:
        if last_kw is None:
            raise ValueError(f"annotation without keyword: {words}")
        for item in annotation:
            if item.startswith(">"):
                last_kw.push = item[1:]
            elif item.startswith("!"):
                last_kw.action = item[1:]
            elif item in CATEGORIES:
                last_kw.cat = item
            else:
                raise ValueError(f"bad annotation {item!r}")


def _index(node: Node, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    index: dict[str, str | None] = {}
    for kw in node.kids:
        low = kw.lower()
        for i in range(1, len(low) + 1):
            prefix = low[:i]
            index[prefix] = kw if index.get(prefix, kw) == kw else None
    for kw in node.kids:
        index[kw.lower()] = kw  # an exact keyword always wins over a longer one
    node.index = index
    for child in (*node.kids.values(), node.iface, node.arg, node.num):
        if child is not None:
            _index(child, seen)


def build(text: str, platform: str = "") -> Node:
    """Compile a vocabulary for ``platform`` (lines tagged ``@a,b`` only apply to those platforms)."""
    root, aliases = Node(), []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@"):
            tags, _, line = line.partition(" ")
            if platform not in tags[1:].split(","):
                continue
        if line.startswith("%alias "):
            aliases.append(line.split()[1:3])
            continue
        words, _, annotation = line.partition("=>")
        for expanded in _expand_braces(words.strip()):
            _insert(root, expanded.split(), annotation.split())
    _index(root, set())
    for short, target in aliases:
        root.index[short] = target
    return root


def _iface(toks: list[str], i: int, expand: IfExpander) -> tuple[str | None, int]:
    tok = toks[i]
    if any(c.isdigit() for c in tok):
        return expand(tok), 1
    if i + 1 < len(toks) and toks[i + 1][:1].isdigit() and tok.replace("-", "").isalpha():
        return expand(tok + toks[i + 1]), 2  # "int gi 0/1" is "interface GigabitEthernet0/1"
    return None, 0


def _iface_rest(toks: list[str], i: int, expand: IfExpander) -> list[str]:
    out = []
    while i < len(toks):
        name, used = _iface(toks, i, expand)
        out.append(name if name is not None else toks[i])
        i += used or 1
    return out


def walk(start: Node, toks: list[str], i: int, expand: IfExpander) -> WalkResult:
    """Expand ``toks[i:]`` from ``start``; unknown words are kept as typed."""
    out: list[str] = []
    node, path, ann, progress, n = start, [], None, 0, len(toks)
    while i < n:
        tok = toks[i]
        low = tok.lower()
        kw = node.index.get(low)
        if kw is not None:
            node = node.kids[kw]
        else:
            used = 0
            if node.iface is not None:
                name, used = _iface(toks, i, expand)
                if name is not None:
                    node = node.iface
                    tok = name
            if not used and node.num is not None and tok.isdigit():
                node, used = node.num, 1
            if not used and node.arg is not None:
                node, used = node.arg, 1
            if used:
                out.append(tok)
                path.append(node)
                i += used
                progress += 1
                continue
            if node.rest:
                out.extend(toks[i:] if node.rest == 1 else _iface_rest(toks, i, expand))
                return out, True, progress + n - i, ann, bool(path)
            for anc in reversed(path[:-1]):  # options of an enclosing keyword: "ping X repeat 5 size 9"
                kw = anc.index.get(low)
                if kw is not None:
                    node = anc.kids[kw]
                    break
            else:
                if len(path) > 1 and node.leaf:
                    out.append(tok)  # trailing argument of a fully matched keyword
                    i += 1
                    continue
                out.extend(toks[i:])
                return out, False, progress, ann, bool(path)
        out.append(kw)
        path.append(node)
        if node.cat is not None:
            ann = node
        i += 1
        progress += 1
    return out, True, progress, ann, bool(path)


def graft(parent: Node, keyword: str, target: Node) -> None:
    """Make ``target`` reachable as ``keyword`` under ``parent`` (shared sub-trees, e.g. Junos schema)."""
    parent.kids[keyword] = target
    low = keyword.lower()
    for i in range(1, len(low) + 1):
        prefix = low[:i]
        parent.index[prefix] = keyword if parent.index.get(prefix, keyword) == keyword else None
    for kw in parent.kids:
        parent.index[kw.lower()] = kw


def descend(root: Node, words: list[str]) -> Node | None:
    """The node reached by already-normalised ``words``, or None when they leave the vocabulary."""
    node: Node | None = root
    for word in words:
        if node is None:
            return None
        kw = node.index.get(word.lower())
        node = node.kids[kw] if kw is not None else node.arg
    return node
