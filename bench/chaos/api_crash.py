"""The ingest API killed again and again: every event of every 202 comes out of the worker.

A client posts batches of 50 lab commands to ``POST /v1/events`` while the ``labstream api``
process is killed with ``kill -9`` ten times (three in the quick run) and started again on the
same spool, the last kill at the end; a new collector on that spool then sends what is left.
Events in = the events of the requests answered 202 (a 503, another status or a cut connection
is not acceptance); each must be processed by the worker. This is the run that found the
fire-and-forget 202 losing 247 of 56,600 accepted events (issue 13).
"""

from __future__ import annotations

import asyncio

from bench.chaos.common import Account, Env, Observer, Sent, settle
from tests.fixtures import crash


async def run(env: Env) -> Account:
    acc = Account("ingest API kill -9")
    kills = 3 if env.quick else 10
    settings = env.settings()
    async with Observer(settings) as obs:
        worker = env.worker(settings, "api-crash")
        await asyncio.to_thread(worker.wait_ready)
        tally = await asyncio.to_thread(
            crash.api_kill_run,
            settings,
            env.root / f"api-{settings.app_id}.log",
            kills=kills,
            batch=50,
            up_s=(1.0, 3.0),
        )
        left = await asyncio.to_thread(crash.drain, settings)
        sent = [Sent(settings.topics.lab_events, -1, -1, i) for i in tally.accepted]
        await settle(acc, obs, sent, wait_s=180)
        acc.check(worker.proc is not None and worker.proc.poll() is None, "worker died")
    acc.check(len(tally.accepted) > 0, "no request was accepted")
    acc.detail = (
        f"{kills} kills; {len(tally.accepted)} events accepted of {tally.sent} sent "
        f"({dict(tally.statuses)}); {left} left in the spool after the last kill, drained by a new collector"
    )
    return acc
