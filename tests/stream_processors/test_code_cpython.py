"""check_code and CodeCheckPool report CPython's own syntax-error cases exactly as ``compile()`` does.

The cases come from the interpreter's test suite on this machine.

Sources: ``test/test_syntax.py`` (its doctest examples and the strings passed to
``_check_error``/``_check_noerror``), ``test/test_exceptions.py`` (``check(src, lineno, offset)``
in ``testSyntaxErrorOffset``) and the ``badsyntax_*.py`` files. When the ``test`` package is not
installed, the snapshot vendored in ``code_corpus/cpython_syntax_cases.json`` (taken from CPython
3.11.7, PSF licence) is used instead. Only sources are taken: the expected message, line and column
always come from ``compile()`` in a fresh interpreter (``ground_truth``).
"""

from __future__ import annotations

import ast
import doctest
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from stream_processors.code import CodeCheckPool, CodeVerdict, check_code

CORPUS = Path(__file__).parent / "code_corpus" / "cpython_syntax_cases.json"

_GROUND_TRUTH = r"""
import json, sys
out = []
for src in json.loads(sys.stdin.read()):
    try:
        compile(src, "<submission>", "exec", dont_inherit=True)
        out.append({"kind": "ok"})
    except SyntaxError as e:
        out.append({"kind": "syntax", "message": e.msg, "line": e.lineno, "column": e.offset})
    except ValueError as e:
        out.append({"kind": "syntax", "message": str(e), "line": None, "column": None})
    except MemoryError:
        out.append({"kind": "memory"})
    except RecursionError:
        out.append({"kind": "recursion"})
print(json.dumps(out))
"""


def stdlib_test_dir() -> Path | None:
    """The interpreter's own ``test`` package, if installed."""
    try:
        import test
    except ImportError:
        return None
    path = Path(os.path.dirname(test.__file__))
    return path if (path / "test_syntax.py").exists() else None


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():  # CPython's test files have invalid escapes; -W error would fail
        warnings.simplefilter("ignore")
        return ast.parse(source)


def extract(test_dir: Path) -> list[dict[str, str]]:
    """Every case as ``{"origin": ..., "source": ...}``."""
    cases: list[dict[str, str]] = []
    syntax = (test_dir / "test_syntax.py").read_text(encoding="utf-8")
    tree = _parse(syntax)
    doc = ast.get_docstring(tree, clean=False) or ""
    for ex in doctest.DocTestParser().get_examples(doc):
        cases.append({"origin": f"test_syntax.py doctest line {ex.lineno + 1}", "source": ex.source})
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("_check_error", "_check_noerror")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            cases.append({"origin": f"test_syntax.py line {node.lineno}", "source": node.args[0].value})
    exc = _parse((test_dir / "test_exceptions.py").read_text(encoding="utf-8"))
    for node in ast.walk(exc):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "check"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            cases.append({"origin": f"test_exceptions.py line {node.lineno}", "source": node.args[0].value})
    for path in sorted(test_dir.rglob("badsyntax_*.py")):
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        cases.append({"origin": str(path.relative_to(test_dir)), "source": text})
    return cases


def load_cases() -> tuple[str, list[dict[str, str]]]:
    """Cases from the installed stdlib, else from the vendored snapshot."""
    test_dir = stdlib_test_dir()
    if test_dir is not None:
        return f"stdlib {test_dir}", extract(test_dir)
    return f"vendored {CORPUS.name}", json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]


def ground_truth(sources: list[str]) -> list[dict[str, object]]:
    """What ``compile()`` says about each source, in a fresh interpreter (default warning filters)."""
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _GROUND_TRUTH],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(proc.stdout)


def _expected(truth: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, str | None]:
    kind = truth["kind"]
    if kind == "ok":
        return False, None, None
    if kind == "syntax":
        return True, {k: truth[k] for k in ("message", "line", "column")}, None
    return False, None, kind  # memory / recursion: the error message is ours, the limit is CPython's


def _got(v: CodeVerdict) -> tuple[bool, dict[str, Any] | None, str | None]:
    return v.has_syntax_error, (v.error if v.limit is None else None), v.limit


@pytest.fixture(scope="module")
def corpus() -> tuple[str, list[dict[str, str]], list[dict[str, Any]]]:
    origin, cases = load_cases()
    return origin, cases, ground_truth([c["source"] for c in cases])


def test_the_stdlib_test_package_is_used_when_installed(corpus: Any) -> None:
    origin, cases, truth = corpus
    assert (stdlib_test_dir() is not None) == origin.startswith("stdlib")
    assert len(cases) >= 400, origin
    assert sum(t["kind"] == "syntax" for t in truth) >= 400


def test_vendored_snapshot_is_readable_and_large() -> None:
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 400 and all(set(c) == {"origin", "source"} for c in cases)


def test_check_code_matches_compile(corpus: Any) -> None:
    _, cases, truth = corpus
    got = [_got(check_code("python", c["source"], 1 << 20)) for c in cases]
    mismatches = [
        (c["origin"], g, _expected(t)) for c, g, t in zip(cases, got, truth, strict=True) if g != _expected(t)
    ]
    assert mismatches == []


@pytest.mark.parametrize("inline_max_bytes", [0, 4096], ids=["children", "inline-where-safe"])
async def test_pool_matches_compile(corpus: Any, inline_max_bytes: int) -> None:
    _, cases, truth = corpus
    pool = CodeCheckPool(
        max_bytes=1 << 20, timeout_s=10, workers=2, inline_max_bytes=inline_max_bytes, inline_max_items=1000
    )
    async with pool:
        verdicts = await pool.check_many([("python", c["source"]) for c in cases])
    mismatches = [
        (c["origin"], _got(v), _expected(t))
        for c, v, t in zip(cases, verdicts, truth, strict=True)
        if _got(v) != _expected(t)
    ]
    assert mismatches == []


def test_vendored_snapshot_matches_compile_too() -> None:
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    truth = ground_truth([c["source"] for c in cases])
    assert [_got(check_code("python", c["source"], 1 << 20)) for c in cases] == [_expected(t) for t in truth]


if __name__ == "__main__":  # refresh the snapshot: python -m tests.stream_processors.test_code_cpython
    where = stdlib_test_dir()
    assert where is not None, "needs the interpreter's test package"
    snapshot = {
        "about": f"Syntax-error test sources from CPython {sys.version.split()[0]}'s Lib/test "
        "(test_syntax.py, test_exceptions.py, badsyntax_*.py). Copyright Python Software Foundation, "
        "PSF License Agreement. Expected results are not stored: tests compute them with compile().",
        "cases": extract(where),
    }
    CORPUS.write_text(json.dumps(snapshot, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
