"""Rebalance: a second worker joins mid-stream, then the first one stops; the same account holds.

Partitions move twice while traffic flows: to share them when the second worker
joins, and back to it alone when the first stops (SIGTERM, a clean leave). Tables
(CLI modes, baselines, incidents, struggling streaks) move with their partitions
through the changelog, so alerts are neither lost nor raised twice under another id.
"""

from __future__ import annotations

import asyncio

from bench.chaos import workload
from bench.chaos.common import Account, Env, Observer, check_modes, publish_raw, settle
from bench.chaos.worker_crash import wait_outputs


async def run(env: Env) -> Account:
    acc = Account("rebalance (join, then leave)")
    settings = env.settings()
    w = workload.build(settings, scale=0.3 if env.quick else 1.0)
    head = len(w.records) // 4
    sent = await asyncio.to_thread(publish_raw, env.bootstrap, w.records[:head])
    per_event = sum(1 for r in w.records if r[0] != settings.topics.network_metrics)
    async with Observer(settings) as obs:
        first = env.worker(settings, "rebalance-1")
        await asyncio.to_thread(first.wait_ready)
        rest = asyncio.create_task(
            asyncio.to_thread(publish_raw, env.bootstrap, w.records[head:], over_s=20 if env.quick else 40)
        )
        joined_at = await wait_outputs(obs, per_event // 5, 120)
        second = env.worker(settings, "rebalance-2")
        await asyncio.to_thread(second.wait_ready)
        left_at = await wait_outputs(obs, per_event // 2, 120)
        code = await asyncio.to_thread(first.stop)  # SIGTERM: leaves the group cleanly
        acc.check(code == 0, f"first worker exited with {code} on SIGTERM")
        sent += await rest
        await settle(acc, obs, sent, wait_s=180, incidents=w.incidents)
        modes = check_modes(acc, obs, w.records)  # every session's modes as without faults
        acc.check(second.proc is not None and second.proc.poll() is None, "second worker died")
    # settle() -> count_alerts: each injected incident has exactly one alert id, no alert unexplained
    acc.check(
        len(set(w.incidents.values())) == w.expected_alerts, "the workload's incident plan is inconsistent"
    )
    acc.detail = (
        f"{modes} commands' modes as in a run without faults; "
        f"second joined at {joined_at}, first left at {left_at} of {per_event} per-event outputs; "
        f"alerts {acc.alerts} for {w.expected_alerts} injected incidents"
    )
    return acc
