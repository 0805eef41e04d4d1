"""check_code in process: imports, YAML, Jinja2, text, bounds; and it never raises (hypothesis)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_processors.code import CodeVerdict, check_code

CORPUS = Path(__file__).parent / "code_corpus"

IMPORTS = """\
import os, sys as system
import a.b.c as d
from x import y
from . import sibling
from ..pkg import thing
from .mod import z
try:
    import ujson as json
except ImportError:
    import json
def f():
    import inside.function
    from os import path
class C:
    import inside_class
import os
"""


def test_imports_in_source_order_deduplicated_everywhere() -> None:
    v = check_code("python", IMPORTS, 65536)
    assert v.imports_used == [
        "os",
        "sys",
        "a.b.c",
        "x",
        ".",
        "..pkg",
        ".mod",
        "ujson",
        "json",
        "inside.function",
        "inside_class",
    ]
    assert (v.has_syntax_error, v.error, v.limit, v.code_length) == (False, None, None, len(IMPORTS))


def test_no_imports_on_a_syntax_error() -> None:
    v = check_code("python", "import os\ndef f(:\n", 1024)
    assert v.imports_used == [] and v.has_syntax_error
    assert v.error == {"message": "invalid syntax", "line": 2, "column": 7}


TAB_ERROR = "inconsistent use of tabs and spaces in indentation"


@pytest.mark.parametrize(
    ("code", "message", "line", "column"),
    [
        ("if x:\npass\n", "expected an indented block after 'if' statement on line 1", 2, 1),
        ("if x:\n  a = 1\n b = 2\n", "unindent does not match any outer indentation level", 3, 7),
        ("def f():\n\treturn 1\n        return 2\n", TAB_ERROR, 3, 1),
        ("return 1\n", "'return' outside function", 1, 1),
        ("x = 'abc\n", "unterminated string literal (detected at line 1)", 1, 5),
    ],
)
def test_python_errors_are_cpythons(code: str, message: str, line: int, column: int) -> None:
    assert check_code("python", code, 1024).error == {"message": message, "line": line, "column": column}


def test_syntax_warnings_do_not_become_errors_under_strict_warning_filters() -> None:
    # pytest runs with filterwarnings=error; CPython's default only prints these
    v = check_code("python", "x = '\\d'\nassert (x, 1)\nif x is 1: pass\n", 1024)
    assert (v.has_syntax_error, v.error) == (False, None)


def test_yaml_playbook_and_modules() -> None:
    v = check_code("yaml", (CORPUS / "playbook.yaml").read_text(encoding="utf-8"), 65536)
    assert (v.has_syntax_error, v.error) == (False, None)
    assert v.imports_used == [
        "ansible.builtin.wait_for_connection",
        "cisco.ios.ios_config",
        "ansible.builtin.debug",
        "cisco.ios.ios_command",
    ]


@pytest.mark.parametrize(
    ("code", "line", "column"),
    [
        ("- hosts: r1\n  tasks:\n  - name: a\n   bad: indent\n", 4, 4),
        ("a: [1, 2\nb: 3\n", 2, 2),
        ("key: 'unterminated\n", 2, 1),
        ("---\nok: 1\n---\n- a\nb: c\n", 5, 1),
    ],
)
def test_yaml_errors_have_one_based_positions(code: str, line: int, column: int) -> None:
    v = check_code("yaml", code, 1024)
    assert v.has_syntax_error and v.error is not None
    assert (v.error["line"], v.error["column"]) == (line, column), v.error
    assert "<unicode string>" not in v.error["message"]  # no snippet of the student's code


def test_yaml_is_never_loaded_unsafely() -> None:
    v = check_code("yaml", "!!python/object/apply:os.system ['touch /tmp/pwned']\n", 1024)
    assert v.has_syntax_error and "python/object/apply" in v.error["message"]


def test_yaml_values_that_fail_to_construct_are_errors() -> None:
    v = check_code("yaml", "date: 2001-13-14\n", 1024)
    assert v.has_syntax_error
    assert v.error == {"message": "month must be in 1..12", "line": None, "column": None}


def test_jinja2_template_and_errors() -> None:
    assert check_code("jinja2", (CORPUS / "interfaces.j2").read_text(encoding="utf-8"), 4096).error is None
    v = check_code("jinja2", "line 1\n{% if x %}\n{{ y }}\n", 1024)
    assert v.has_syntax_error
    assert v.error is not None and (v.error["line"], v.error["column"]) == (3, None)
    assert v.error["message"].startswith("Unexpected end of template. Jinja was looking for the following")


def test_jinja2_is_parsed_never_rendered() -> None:
    v = check_code("jinja2", "{{ ''.__class__.__mro__[1].__subclasses__() }}", 1024)
    assert (v.has_syntax_error, v.error) == (False, None)


def test_text_is_never_an_error_and_unknown_languages_are_a_limit() -> None:
    assert check_code("text", "def (((( {{ %}", 1024) == CodeVerdict(False, None, [], 14, None)
    v = check_code("cobol", "x", 1024)
    assert v.limit == "language" and not v.has_syntax_error


def test_verdict_is_frozen_and_serialisable() -> None:
    v = check_code("python", "import os", 1024)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.code_length = 3  # type: ignore[misc]
    out = {"has_syntax_error": False, "error": None, "imports_used": ["os"], "code_length": 9}
    assert v.as_output() == out
    assert CodeVerdict.from_tuple(v.to_tuple()) == v
    assert not hasattr(v, "__dict__")


def test_size_counts_utf8_bytes_and_lone_surrogates() -> None:
    assert check_code("text", "a" * 1024, 1024).limit is None
    assert check_code("text", "€" * 342, 1024).limit == "size"  # 1026 bytes
    assert check_code("python", "\udcff" * 400, 1024).limit == "size"  # surrogatepass: 3 bytes each


_TOKENS = [*"()[]{}:;,.-+*'\"#\\\n\t =!%|&@<>?abcxyz019_", "\x00", "\udcff", "é", "{{", "}}", "{%", "%}"]
_TOKENS += ["- ", ": ", "&a ", "*a ", "!!", "!!python/object ", "---\n", "def ", "import ", "lambda "]
_CODEISH = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)


@pytest.mark.parametrize("language", ["python", "yaml", "jinja2", "text"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.one_of(st.text(max_size=200), _CODEISH))
def test_check_code_never_raises(language: str, code: str) -> None:
    v = check_code(language, code, 4096)
    assert isinstance(v, CodeVerdict) and v.code_length == len(code)
    assert v.limit in (None, "memory", "recursion")
    assert v.has_syntax_error == (v.error is not None and v.limit is None)
    if language == "text":
        assert v.error is None
