"""CodeCheckPool on pathological inputs: each gets a bounded verdict, and the pool keeps working."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from stream_processors.code import CodeCheckPool, CodeVerdict, check_code

CORPUS = Path(__file__).parent / "code_corpus"
NORMAL = (CORPUS / "submission_2k.py").read_text(encoding="utf-8")
NORMAL_IMPORTS = ["re", "collections", "dataclasses", "netmiko", "json", "sys"]
FIVE_MB = "def f(x):\n    return [x + i for i in range(10)]\n" * 110_000  # 5.0 MB, valid
BAD_UTF8 = b"x = '\xff\xfe caf\xc3\xa9'\nprint(x\n"
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


async def assert_still_works(pool: CodeCheckPool) -> None:
    v = await pool.check("python", NORMAL)
    assert (v.has_syntax_error, v.error, v.imports_used, v.limit) == (False, None, NORMAL_IMPORTS, None)
    v = await pool.check("python", NORMAL + "\nif True\n")
    assert v.error is not None and v.error["message"] == "expected ':'"


@pytest.fixture
async def pool() -> CodeCheckPool:
    # children only (inline_max_bytes=0), so every case below really crosses the process boundary
    p = CodeCheckPool(max_bytes=8_000_000, timeout_s=1.0, workers=2, inline_max_bytes=0)
    async with p:
        yield p


CASES: dict[str, tuple[str, str, set[str | None], bool | None]] = {
    # name: (language, code, allowed limits, has_syntax_error when decided)
    "minus-200k-memory": ("python", "-" * 200_000 + "1", {"memory"}, None),
    "minus-5k-recursion": ("python", "-" * 5_000 + "1", {"recursion"}, None),
    "parens-100k": ("python", "(" * 100_000, {None}, True),
    "brackets-5k": ("python", "[" * 5_000, {None}, True),
    "null-bytes": ("python", "x = 1\x00\n", {None}, True),
    "utf8-surrogateescape": ("python", BAD_UTF8.decode("utf-8", "surrogateescape"), {None}, True),
    "utf8-replace": ("python", BAD_UTF8.decode("utf-8", "replace"), {None}, True),
    "lambda-chain": ("python", "lambda:" * 10_000 + "1", {"memory", "recursion"}, None),
    "invalid-yaml": ("yaml", "- hosts: r1\n  tasks: [\n- name: x\n", {None}, True),
    "yaml-billion-laughs": ("yaml", LAUGHS, {None}, False),
    "yaml-deep-nesting": ("yaml", "- " * 3_000 + "x", {"recursion"}, None),
    "yaml-python-tag": ("yaml", "!!python/object/apply:os.system ['echo hi']", {None}, True),
    "json-deep-nesting": ("yaml", "[" * 1_500 + "]" * 1_500, {"recursion", "timeout"}, None),
    "jinja2-error": ("jinja2", "{% for x in xs %}{{ x }", {None}, True),
    "jinja2-deep": ("jinja2", "{{ " + "(" * 3_000 + "1" + ")" * 3_000 + " }}", {"recursion"}, None),
    "five-mb": ("python", FIVE_MB, {None, "timeout"}, False),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_pathological_input_then_normal(pool: CodeCheckPool, name: str) -> None:
    language, code, limits, has_error = CASES[name]
    started = time.monotonic()
    v = await pool.check(language, code)
    assert isinstance(v, CodeVerdict)
    assert v.limit in limits, (v.limit, v.error)
    assert v.code_length == len(code)
    if v.limit is None:
        assert v.has_syntax_error is has_error, v.error
    else:
        assert v.has_syntax_error is False and v.error is not None and v.error["line"] is None
    assert time.monotonic() - started < 1.0 + 5.0  # timeout_s, plus a child's restart
    await assert_still_works(pool)


async def test_null_bytes_and_surrogates_are_reported_as_cpython_does(pool: CodeCheckPool) -> None:
    v = await pool.check("python", "x = 1\x00\n")
    message = "source code string cannot contain null bytes"
    assert v.error == {"message": message, "line": None, "column": None}
    v = await pool.check("python", BAD_UTF8.decode("utf-8", "replace"))
    assert v.error == {"message": "'(' was never closed", "line": 2, "column": 6}


async def test_size_bound_is_checked_before_any_parse() -> None:
    async with CodeCheckPool(max_bytes=1024, timeout_s=1.0, workers=1) as pool:
        v = await pool.check("python", "é" * 600)  # 600 characters, 1200 bytes
    assert (v.limit, v.has_syntax_error, v.code_length) == ("size", False, 600)
    message = "submission is 1200 bytes, over the limit of 1024"
    assert v.error == {"message": message, "line": None, "column": None}
    assert check_code("python", "é" * 600, 1024) == v


async def test_a_batch_timeout_blames_only_the_culprit(pool: CodeCheckPool) -> None:
    items = [("python", NORMAL), ("python", FIVE_MB), ("python", "x = (")] * 2
    # one child and room for the whole batch: all six items go in one round trip
    short = CodeCheckPool(
        max_bytes=8_000_000, timeout_s=0.3, workers=1, inline_max_bytes=0, batch_max_bytes=32_000_000
    )
    async with short:
        verdicts = await short.check_many(items)
        assert [v.limit for v in verdicts] == [None, "timeout", None] * 2
        assert verdicts[0].imports_used == NORMAL_IMPORTS
        assert verdicts[2].error == {"message": "'(' was never closed", "line": 1, "column": 5}
        assert verdicts[1].error == {"message": "checking took over 0.3 s", "line": None, "column": None}
        await assert_still_works(short)


async def test_a_child_killed_mid_check_is_replaced(pool: CodeCheckPool) -> None:
    slow = CodeCheckPool(
        max_bytes=8_000_000, timeout_s=30, workers=1, inline_max_bytes=0, batch_max_bytes=32_000_000
    )
    async with slow:
        items = [("python", NORMAL), ("python", FIVE_MB), ("python", "x = (")]
        task = asyncio.create_task(slow.check_many(items))
        child = slow._children[0]
        while child.progress < 2:  # the child is on item 2 (FIVE_MB), 1-based
            await asyncio.sleep(0.01)
        os.kill(child._proc.pid, signal.SIGTERM)
        verdicts = await task
        assert [v.limit for v in verdicts] == [None, "crash", None]
        assert verdicts[1].error["message"] == f"the checker process died (exit code {-signal.SIGTERM})"
        await assert_still_works(slow)


async def test_memory_limit_stops_a_bomb_and_the_pool_recovers() -> None:
    async with CodeCheckPool(max_bytes=8_000_000, timeout_s=20, workers=1, memory_limit_mb=160) as pool:
        v = await pool.check("python", FIVE_MB)
        assert v.limit == "memory", v.error
        await assert_still_works(pool)


async def test_cancelling_a_check_keeps_the_pool_usable(pool: CodeCheckPool) -> None:
    task = asyncio.create_task(pool.check_many([("python", FIVE_MB)] * 2))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_still_works(pool)
    assert len(await pool.check_many([("python", NORMAL)] * 300)) == 300


async def test_check_many_keeps_order_across_inline_children_and_size(pool: CodeCheckPool) -> None:
    mixed = CodeCheckPool(max_bytes=4096, timeout_s=2.0, workers=2)
    items = [
        ("python", NORMAL),
        ("yaml", (CORPUS / "playbook.yaml").read_text(encoding="utf-8")),
        ("jinja2", (CORPUS / "interfaces.j2").read_text(encoding="utf-8")),
        ("text", "anything {{ ( :"),
        ("python", "x" * 5000),
        ("python", "-" * 100 + "1"),
        ("cobol", "MOVE A TO B"),
    ] * 20
    async with mixed:
        verdicts = await mixed.check_many(items)
    expected = [check_code(lang, code, 4096) for lang, code in items]
    assert verdicts == expected
    assert [v.limit for v in verdicts[:7]] == [None, None, None, None, "size", None, "language"]


async def test_closed_pool_refuses_work() -> None:
    pool = CodeCheckPool(max_bytes=4096, timeout_s=1.0, workers=1)
    await pool.close()
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.check("python", "x = 1")
