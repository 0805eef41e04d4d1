"""``check_code``: pure, in-process syntax checks of one submission.

Python is compiled exactly as CPython does it (``compile(code, "<submission>", "exec",
dont_inherit=True)``), so message, line and column are CPython's own. YAML is read with
``yaml.safe_load_all`` (never a full or unsafe load), Jinja2 templates are parsed (never rendered)
by a ``SandboxedEnvironment``.

Bounds, all reported with ``has_syntax_error=False`` and ``limit`` set (see ``CodeVerdict``):

* ``"size"``: over ``max_bytes`` UTF-8 bytes; the submission is not parsed at all.
* ``"memory"``: a ``MemoryError`` while checking. CPython raises one itself for some tiny inputs
  (``"-" * 200000 + "1"`` overflows its parser stack), and a checker process hits one at its
  ``RLIMIT_AS``.
* ``"recursion"``: a ``RecursionError`` (``"-" * 5000 + "1"``: "maximum recursion depth exceeded
  during compilation"; deeply nested YAML). Nesting that CPython rejects with a ``SyntaxError``
  (``"(" * 100000``: "too many nested parentheses") is a syntax error, reported as CPython does.
* ``"timeout"`` and ``"crash"`` only come from ``CodeCheckPool``: this function cannot bound time.
* ``"language"``: a language other than python, yaml, jinja2 and text; and ``python2``, on purpose.

Python 2 (``language="python2"``, courses still graded under Python 2) is **not checked by
CPython 3**: ``print "x"`` or ``except E, e`` are valid there and syntax errors here, so compiling it
would flag most correct submissions. Its verdict is ``has_syntax_error=False``, ``limit="language"``
and the message :data:`PYTHON2_UNCHECKED`; the imports are read line by line (``import a, b``,
``from a import b``), so insights still see them.

Source CPython refuses before parsing is a syntax error without a position: null bytes
("source code string cannot contain null bytes", a ``SyntaxError`` on 3.11.7, a ``ValueError`` on
some versions) and lone surrogates (``UnicodeEncodeError``, its message as CPython gives it).
"""

from __future__ import annotations

import ast
import re
import warnings

import yaml
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from stream_processors.code._ansible import ansible_modules
from stream_processors.code._verdict import (
    CodeVerdict,
    limited,
    ok,
    size_limited,
    syntax_error,
    utf8_size,
)

_FILENAME = "<submission>"
PYTHON2_UNCHECKED = "python2: not checked by CPython 3 (no syntax verdict)"
_PY2_IMPORT = re.compile(r"^[ \t]*(?:import[ \t]+([^\n#;]+)|from[ \t]+(\.*[\w.]*)[ \t]+import\b)", re.M)
_STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")  # handlers/cases hold bodies
_jinja_env: SandboxedEnvironment | None = None


def check_code(language: str, code: str, max_bytes: int) -> CodeVerdict:
    """Check one submission in this process; never raises for any ``code``.

    >>> check_code("python", "import os\\nx = (", 1024).error
    {'message': "'(' was never closed", 'line': 2, 'column': 5}
    >>> check_code("python", "from . import a\\nimport b.c as d", 1024).imports_used
    ['.', 'b.c']
    """
    n = len(code)
    try:
        over = utf8_size(code, max_bytes)
        if over is not None:
            return size_limited(n, over, max_bytes)
        if language == "python":
            return _check_python(code)
        if language == "yaml":
            return _check_yaml(code)
        if language == "jinja2":
            return _check_jinja2(code)
        if language == "text":
            return ok(n)
        if language == "python2":
            return _python2(code)
        return limited(n, "language", f"language {language[:40]!r} is not checked")
    except MemoryError:
        return limited(n, "memory", "the checker ran out of memory on this submission")
    except RecursionError as e:
        return limited(n, "recursion", f"nesting too deep to check: {e}")
    except Exception as e:  # noqa: BLE001 - the contract is "never raises"; the type says what broke
        return limited(n, "crash", f"the checker failed on this submission ({type(e).__name__})")


def _check_python(code: str) -> CodeVerdict:
    n = len(code)
    try:
        with warnings.catch_warnings():
            # SyntaxWarning/DeprecationWarning must not turn into errors under `-W error`;
            # CPython's default is to print them and compile anyway.
            warnings.simplefilter("ignore")
            compile(code, _FILENAME, "exec", dont_inherit=True)
            tree = ast.parse(code, _FILENAME) if "import" in code else None
    except SyntaxError as e:  # also IndentationError, TabError
        return syntax_error(n, e.msg if e.msg is not None else str(e), e.lineno, e.offset)
    except ValueError as e:  # null bytes on some versions; UnicodeEncodeError for lone surrogates
        return syntax_error(n, str(e), None, None)
    return ok(n, _imports(tree) if tree is not None else [])


def _python2(code: str) -> CodeVerdict:
    """The documented "not checked" verdict of Python 2 source, with its imports (source order).

    >>> _python2("import os, sys as s\\nfrom . import x\\nprint 'hi'").imports_used
    ['os', 'sys', '.']
    """
    found: dict[str, None] = {}
    for m in _PY2_IMPORT.finditer(code):
        if m.group(1) is not None:
            for part in m.group(1).split(","):
                name = part.split()[0] if part.split() else ""
                if name:
                    found.setdefault(name, None)
        else:
            found.setdefault(m.group(2), None)
    verdict = limited(len(code), "language", PYTHON2_UNCHECKED)
    return CodeVerdict(False, verdict.error, list(found), len(code), "language")


def _imports(tree: ast.Module) -> list[str]:
    """Imported modules in source order, deduplicated; ``from ..pkg import x`` gives ``..pkg``.

    Imports are statements, so only statement lists are walked (bodies of functions, classes,
    ``if``/``for``/``while``/``with``/``try``/``match``): ten times cheaper than ``ast.walk`` over
    every expression, and iterative, so deep nesting cannot recurse.
    """
    found: list[tuple[int, int, int, str]] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.extend((node.lineno, node.col_offset, i, a.name) for i, a in enumerate(node.names))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.col_offset, 0, "." * node.level + (node.module or "")))
        else:
            for name in _STATEMENT_LISTS:
                stack.extend(getattr(node, name, ()))
    found.sort()
    return list(dict.fromkeys(name for *_, name in found))


def _check_yaml(code: str) -> CodeVerdict:
    n = len(code)
    try:
        docs = list(yaml.safe_load_all(code))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = "; ".join(p for p in (e.context, e.problem) if p) or type(e).__name__
        return syntax_error(n, message, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
        # e.g. "2001-13-14" is resolved as a timestamp and fails to construct (ValueError)
        return syntax_error(n, _first_line(str(e)) or type(e).__name__, None, None)
    return ok(n, ansible_modules(docs))


def _check_jinja2(code: str) -> CodeVerdict:
    global _jinja_env
    if _jinja_env is None:
        _jinja_env = SandboxedEnvironment()
    try:
        _jinja_env.parse(code)
    except TemplateSyntaxError as e:
        return syntax_error(len(code), e.message or type(e).__name__, e.lineno, None)
    return ok(len(code))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
