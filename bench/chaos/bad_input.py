"""Bad input to every input topic and to ``POST /v1/events``, generated with hypothesis.

Kafka: every case is published as raw bytes to the topic of its event kind, with a
valid event after it on the same key; the account must find each in ``dead-letters``
(decode/validate/process) or processed, and the worker still up.
HTTP: every case is a request body; the answer is 202 or a 4xx whose body names the
problem (``detail``, and per-event ``errors`` with field and message on a 422), never
a 5xx; the API still answers at the end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx

from bench.chaos import strategies
from bench.chaos.common import Account, ApiProcess, Env, Observer, event_id_of, publish_raw, settle

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
    records = []
    for i, (kind, _how, body) in enumerate(cases):
        key = f"k{i % 64}".encode()
        if i % 97 == 0:  # keys and tombstones are input too
            records.append((topic[kind], body[:300] or b"\x00", None, None))
        records.append((topic[kind], key, body, event_id_of(body)))
        good = strategies.valid(kind)  # a valid event behind each bad one, same key: it must get through
        records.append((topic[kind], key, json.dumps(good).encode(), good["event_id"]))
    generated = time.monotonic() - started
    async with Observer(settings) as obs:
        worker = env.worker(settings, "bad-input")
        await asyncio.to_thread(worker.wait_ready)
        sent = await asyncio.to_thread(publish_raw, env.bootstrap, records)
        await settle(acc, obs, sent, wait_s=120 if env.quick else 400)
        alive = worker.proc is not None and worker.proc.poll() is None
        acc.check(alive and worker.get("/health")[0] == 200, "worker not up after the bad input")
        stages = Counter(d.stage for d in obs.dead_letters)
        unnamed = sum(1 for d in obs.dead_letters if not d.error.strip())
        acc.check(unnamed == 0, f"{unnamed} dead letters without a reason")
    acc.detail = (
        f"{len(cases)} cases ({n} hypothesis + {len(cases) - n} of 10 MB, generated in {generated:.0f} s), "
        f"each followed by a valid event; dead letters by stage {dict(stages)}"
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
