"""Bad input to every input topic and to ``POST /v1/events``, generated with hypothesis.

Kafka: every case is published as raw bytes to the topic of its event kind, with a
valid event after it on the same key, then named hostile cases (a duplicated ``exit``, a late
older ``seq``, poison keys, numbers no device reports, readings stamped years ahead or in 1970).
Every record must meet its expected fate, checked record by record: processed, or dead-lettered
at the stage the topic contract gives it (decode/validate); the CLI modes of the duplicated and
late commands are checked too, and the worker must still be up.
HTTP: every case is a request body; the answer is 202 or a 4xx whose body names the
problem (``detail``, and per-event ``errors`` with field and message on a 422), never
a 5xx; the API still answers at the end.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from bench.chaos import strategies
from bench.chaos.common import (
    Account,
    ApiProcess,
    Env,
    Observer,
    committed_offsets,
    event_id_of,
    fates,
    publish_raw,
    settle,
)
from schemas import CodeSubmission, LabCommand, NetworkMetrics
from stream_processors.records import BatchResult, Record, TimeBounds, parse

FULL_CASES, QUICK_CASES = 10_000, 1_000
_TOKEN = "chaos-bad-input-token-0123456789"  # noqa: S105 - a test token


async def run(env: Env) -> list[Account]:
    n = QUICK_CASES if env.quick else FULL_CASES
    return [await _kafka(env, n), await _http(env, n)]


async def _kafka(env: Env, n: int) -> Account:
    acc = Account("bad input: Kafka topics")
    settings = env.settings()
    topic = {
        "code_submission": settings.topics.student_events,
        "lab_command": settings.topics.lab_events,
        "network_metrics": settings.topics.network_metrics,
    }
    started = time.monotonic()
    cases = await asyncio.to_thread(strategies.cases, n)
    cases += strategies.huge_cases()
    records: list[tuple[str, bytes | None, bytes | None, str | None]] = []
    expected: list[tuple[str, str]] = []  # per record: (case name, fate it must meet)
    for i, (kind, how, body) in enumerate(cases):
        key = f"k{i % 64}".encode()
        if i % 97 == 0:  # keys and tombstones are input too
            records.append((topic[kind], body[:300] or b"\x00", None, None))
            expected.append((f"{kind}:tombstone", "dead:decode"))
        records.append((topic[kind], key, body, event_id_of(body)))
        expected.append((f"{kind}:{how}#{i}", predicted_fate(settings, kind, key, body)))
        good = strategies.valid(kind)  # a valid event behind each bad one, same key: it must get through
        records.append((topic[kind], key, json.dumps(good).encode(), good["event_id"]))
        expected.append((f"{kind}:valid#{i}", "processed"))
    hostile = strategies.hostile_cases(uuid.uuid4().hex[:8])
    first_hostile = len(records)
    for kind, name, key, value, fate in hostile:
        records.append((topic[kind], key, value, event_id_of(value)))
        expected.append((name, fate))
    generated = time.monotonic() - started
    async with Observer(settings) as obs:
        worker = env.worker(settings, "bad-input")
        await asyncio.to_thread(worker.wait_ready)
        sent = await asyncio.to_thread(publish_raw, env.bootstrap, records)
        await settle(acc, obs, sent, wait_s=120 if env.quick else 400)
        committed = await committed_offsets(settings)
        processed, _dead, _missing = fates(sent, obs, committed)
        stage = {(d.original_topic, d.partition, d.offset): d.stage for d in obs.dead_letters}
        done = {(s.topic, s.partition, s.offset) for s in processed}
        wrong = []
        for s, (name, fate) in zip(sent, expected, strict=True):
            at = (s.topic, s.partition, s.offset)
            got = f"dead:{stage[at]}" if at in stage else ("processed" if at in done else "lost")
            if got != fate:
                wrong.append(f"{name}: {got}, expected {fate}")
        acc.check(not wrong, f"{len(wrong)} cases met another fate than expected: {wrong[:10]}")
        by_name = {
            name: s for s, (name, _) in zip(sent[first_hostile:], expected[first_hostile:], strict=True)
        }
        modes = {name: obs.modes.get(s.event_id or "", set()) for name, s in by_name.items()}
        for name, mode in [
            ("dup_exit:exit_again", "config-if"),  # the duplicate answered as the first time
            ("dup_exit:next", "config"),  # one mode popped, not two
            ("late_seq:3", "config-router"),  # the late exit answered in the state its seq met
            ("late_seq:6", "config-if"),  # and it popped nothing
        ]:
            acc.check(modes[name] == {mode}, f"{name}: mode {sorted(modes[name])}, expected {mode}")
        alive = worker.proc is not None and worker.proc.poll() is None
        acc.check(alive and worker.get("/health")[0] == 200, "worker not up after the bad input")
        stages = Counter(d.stage for d in obs.dead_letters)
        unnamed = sum(1 for d in obs.dead_letters if not d.error.strip())
        acc.check(unnamed == 0, f"{unnamed} dead letters without a reason")
    acc.detail = (
        f"{len(cases)} cases ({n} hypothesis + {len(cases) - n} of 10 MB, generated in {generated:.0f} s), "
        f"each followed by a valid event, and {len(hostile)} named hostile cases; every record's fate "
        f"(processed, or dead-lettered at which stage) checked against the expected one; dead letters by "
        f"stage {dict(stages)}"
    )
    return acc


async def _http(env: Env, n: int) -> Account:
    acc = Account("bad input: POST /v1/events")
    settings = env.settings()
    api = ApiProcess(env, settings, [_TOKEN], api_rate_limit_per_minute=str(10**9))
    cases = await asyncio.to_thread(strategies.cases, n, collector=True)
    cases += strategies.huge_cases(collector=True)
    for i in range(0, len(cases), 50):  # batches too: an array of events, one of them bad
        kind, how, body = cases[i]
        if body[:1] == b"{":
            good = json.dumps(strategies.valid(kind, collector=True)).encode()
            cases.append((kind, "batch:" + how, b"[" + good + b"," + body + b"]"))
    await asyncio.to_thread(api.wait_ready)
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {_TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60) as client:
        for _kind, how, body in cases:
            acc.events_in += 1
            try:
                r = await client.post("/v1/events", content=body)
            except httpx.HTTPError as e:
                problems.append(f"{how}: {type(e).__name__}")
                continue
            statuses[r.status_code] += 1
            if r.status_code == 202:
                acc.processed += 1
            elif 400 <= r.status_code < 500 and _names_problem(r):
                acc.dead_lettered += 1  # refused, and told why
            else:
                problems.append(f"{how}: {r.status_code} {r.text[:120]!r}")
        up = (await client.get("/health")).status_code == 200
    acc.lost = len(problems)
    acc.check(up and api.proc.poll() is None, "API not up after the bad input")
    acc.check(not problems, f"answers that are not 202 or a 4xx naming the problem: {problems[:5]}")
    acc.detail = (
        f"{len(cases)} requests; statuses {dict(sorted(statuses.items()))} (4xx counted as dead-lettered)"
    )
    return acc


def predicted_fate(settings: Any, kind: str, key: bytes, body: bytes) -> str:
    """The fate the topic contract gives this record: ``processed`` or ``dead:<stage>``.

    The schema (and the worker's event-time bounds) decide it; the run checks the worker met it,
    record by record (a ``process`` dead letter, or a lost record, is never expected).
    """
    models: dict[str, Any] = {
        "code_submission": CodeSubmission,
        "lab_command": LabCommand,
        "network_metrics": NetworkMetrics,
    }
    model = models[kind]
    result = BatchResult()
    bounds = TimeBounds(max_skew_s=settings.max_clock_skew_s, horizon_s=settings.event_horizon_s)
    if parse(Record("", 0, 0, key, body), model, result, bounds) is not None:
        return "processed"
    return f"dead:{result.dead_letters[0].stage}"


def _names_problem(r: httpx.Response) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    if not isinstance(body, dict) or not str(body.get("detail", "")).strip():
        return False
    if r.status_code == 422:
        errors = body.get("errors")
        return bool(errors) and all(isinstance(e, dict) and str(e.get("message", "")).strip() for e in errors)
    return True
