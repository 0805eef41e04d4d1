"""The inline pre-scan: what it lets into the event loop's process is cheap, what it refuses is not.

Timing bounds are loose on purpose (a loaded 2-core machine): the measured worst case of admitted
4 KB inputs is ~6 ms here, the bound asserted is 100 ms (best of 3); the refused lambda chain
takes ~40 ms and YAML flow nesting 50-900 ms.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_processors.code import check_code
from stream_processors.code._prescan import INLINE_MAX_BYTES, inline_safe

N = INLINE_MAX_BYTES
NORMAL = (Path(__file__).parent / "code_corpus" / "submission_2k.py").read_text(encoding="utf-8")


def fill(unit: str, head: str = "", tail: str = "") -> str:
    """``head + unit * k + tail`` as close to the inline bound as possible."""
    return head + unit * ((N - len(head) - len(tail)) // len(unit)) + tail


ADVERSARIAL = {
    "binop-chain": fill("1+", tail="1"),
    "attribute-chain": fill(".y", head="x"),
    "call-chain": fill("()", head="f"),
    "subscript-chain": fill("[0]", head="x"),
    "comparison-chain": fill("a<", tail="b"),
    "ternary-chain": fill("1 if 1 else ", tail="1"),
    "power-chain": fill("2**", tail="2"),
    "nested-64": fill("(" * 60 + "1" + ")" * 60 + "\n"),
    "fstrings": fill("f'{f\"{1}\"}'+", tail="''"),
    "many-defs": fill("def f(a,b=1,*c,d,**e):pass\n"),
    "decorators": fill("@d\n", tail="def f():pass"),
    "indent-60": "".join(" " * i + "if x:\n" for i in range(60)) + " " * 60 + "pass\n",
    "error-recovery": fill("a b c d "),
    "big-int": "x=" + "9" * (N - 3),
    "constant-folding": fill("'aaaa'*", tail="4096"),
    "tuple-folding": fill("(1,)*", head="x=", tail="1"),
    "match-patterns": fill("match x:\n case [[[[[[[[[[1]]]]]]]]]]:pass\n"),
    "lambdas-shallow": ("lambda:" * 9 + "1\n") * 7,
    "non-ascii": fill("é" * 50 + "=1\n")[: N // 2],
}
REFUSED = {
    "lambda-chain": fill("lambda:", tail="1"),
    "unary-chain": fill("-", tail="1"),
    "not-chain": fill("not ", tail="x"),
    "deep-brackets": "(" * 65 + ")" * 65,
    "unclosed-brackets": fill("(" * 60 + "\n"),
    "over-size": "x = 1\n" * 700,
    "non-ascii-over-size": "é" * 3000,
    "yaml": "a: 1",
    "jinja2": "{{ a }}",
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_admitted_worst_cases_are_admitted_and_checked(name: str) -> None:  # their time: bench/limits.py
    code = ADVERSARIAL[name]
    assert len(code.encode()) <= N and inline_safe("python", code), name
    assert check_code("python", code, 1 << 20).code_length > 0  # a verdict, not an exception


@pytest.mark.parametrize("name", list(REFUSED))
def test_pathological_shapes_are_refused(name: str) -> None:
    language = name if name in ("yaml", "jinja2") else "python"
    assert not inline_safe(language, REFUSED[name])


def test_normal_code_and_text_are_admitted_and_a_zero_limit_admits_only_text() -> None:
    assert inline_safe("python", NORMAL) and inline_safe("text", "x" * 100_000)
    assert not inline_safe("python", NORMAL, 0) and inline_safe("text", "x", 0)
