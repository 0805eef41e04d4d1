"""Which submissions are simple enough to check in the event loop's own process.

A submission is checked inline only when all of these hold; everything else goes to a child.

* language ``text`` (nothing is parsed) or ``python2`` (only a line regex for imports), or
  ``python`` and at most ``INLINE_MAX_BYTES`` UTF-8 bytes.
  YAML and Jinja2 always go to a child: their parsers are pure Python with superlinear corners
  (4 KB of nested YAML flow collections takes 50-900 ms here), which no cheap scan rules out.
* bracket nesting, counted naively over the raw text, at most ``_MAX_DEPTH``; fewer than
  ``_MAX_LAMBDAS`` ``lambda`` keywords; no run of ``_UNARY_RUN`` prefix operators.

Why this is enough (CPython 3.11, measured on this machine by ``tests/.../test_code_inline.py``):

* time: over adversarial families at 4 KB (binary-operator, call, attribute and comparison chains,
  nested brackets, f-strings, many definitions, error-recovery inputs) ``compile`` + ``ast.parse``
  takes at most ~6 ms; the worst family, 585 nested lambdas (~40 ms), is rejected by the scan;
* memory: the AST is bounded by the token count (< 4096), constant folding by CPython's own caps
  (``MAX_STR_SIZE``, ``MAX_INT_SIZE``, ``MAX_COLLECTION_SIZE``) and int literals by the 4300-digit
  limit, so a 4 KB submission cannot allocate more than a few MB;
* recursion: CPython guards every recursive stage (tokenizer: 200 brackets, 100 indents; parser
  stack: ``MemoryError``; AST construction, validation, symtable, compiler: ``RecursionError``).
  Those exceptions are caught; the scan additionally keeps deep nesting away from this process, so
  a CPython bug on deep nesting can only ever kill a child.
"""

from __future__ import annotations

import re

INLINE_MAX_BYTES = 4096
_MAX_DEPTH = 64
_MAX_LAMBDAS = 64
_OPENERS = re.compile(r"[(\[{]")
_BRACKETS = re.compile(r"[()\[\]{}]")
_UNARY_RUN = re.compile(r"(?:[-+~]\s*){32}|(?:\bnot\s+){32}|(?:\bawait\s+){32}")


def inline_safe(language: str, code: str, limit: int = INLINE_MAX_BYTES) -> bool:
    """True when ``check_code(language, code, ...)`` is provably cheap enough for the event loop."""
    if language in ("text", "python2"):  # python2: a line regex, linear in the size
        return True
    if language != "python" or len(code) > limit:
        return False
    if not code.isascii() and len(code.encode("utf-8", "surrogatepass")) > limit:
        return False
    if code.count("lambda") >= _MAX_LAMBDAS or _UNARY_RUN.search(code):
        return False
    return _bracket_depth(code) <= _MAX_DEPTH


def _bracket_depth(code: str) -> int:
    if len(_OPENERS.findall(code)) <= _MAX_DEPTH:  # fast path: cannot nest deeper than it opens
        return 0
    depth = deepest = 0
    for ch in _BRACKETS.findall(code):
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest
