"""Worker crash: kill -9 a worker mid-stream, start a new one; every event is processed at least once.

A third of the traffic is on the topics before the worker starts, the rest arrives
while it runs; it is killed when about a third of the per-event outputs are out, i.e.
with batches in flight, table writes flushed or not, and offsets uncommitted. The
restarted worker resumes from the last commit: some events are processed twice
(at-least-once), none is lost, and an alert sent again carries the same ``alert_id``.
"""

from __future__ import annotations

import asyncio
import time

from bench.chaos import workload
from bench.chaos.common import Account, Env, Observer, check_modes, publish_raw, settle


async def wait_outputs(obs: Observer, n: int, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while len(obs.output_ids) < n and time.monotonic() < deadline:
        await obs.pump(0.3)
    return len(obs.output_ids)


async def run(env: Env) -> Account:
    acc = Account("worker crash (kill -9)")
    settings = env.settings()
    w = workload.build(settings, scale=0.3 if env.quick else 1.0)
    head = len(w.records) // 3
    sent = await asyncio.to_thread(publish_raw, env.bootstrap, w.records[:head])
    per_event = sum(1 for r in w.records if r[0] != settings.topics.network_metrics)
    async with Observer(settings) as obs:
        first = env.worker(settings, "crash-1")
        await asyncio.to_thread(first.wait_ready)
        rest = asyncio.create_task(
            asyncio.to_thread(publish_raw, env.bootstrap, w.records[head:], over_s=8 if env.quick else 20)
        )
        at = await wait_outputs(obs, per_event // 3, 120)
        assert first.proc is not None
        first.proc.kill()  # SIGKILL: no shutdown, no final commit
        first.proc.wait(10)
        second = env.worker(settings, "crash-2")
        await asyncio.to_thread(second.wait_ready)
        sent += await rest
        await settle(acc, obs, sent, wait_s=180, incidents=w.incidents)
        modes = check_modes(acc, obs, w.records)  # every session's modes as without faults
        acc.check(second.proc is not None and second.proc.poll() is None, "restarted worker died")
    # settle() -> count_alerts: each injected incident has exactly one alert id, no alert unexplained
    acc.check(
        len(set(w.incidents.values())) == w.expected_alerts, "the workload's incident plan is inconsistent"
    )
    acc.detail = (
        f"{modes} commands' modes as in a run without faults; "
        f"killed after {at}/{per_event} per-event outputs; alerts {acc.alerts} for "
        f"{w.expected_alerts} injected incidents"
    )
    return acc
