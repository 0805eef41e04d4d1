"""Apache Kafka faults on a three-node cluster (RF 3, min ISR 2), each ending with the account.

- **leader kill**: the broker leading most input partitions is ``kill -9``'ed under load and
  started again; a real :class:`~producers.Collector` and a raw acks=all producer publish through
  the leader change, one worker processes;
- **rolling restart**: each broker in turn stopped (SIGTERM) and started, waiting for every
  replica to be back in sync before the next, while the collector publishes and two workers process;
- **cluster restart**: the whole cluster stopped and started on its data; new workers rebuild
  their tables from the changelogs (Faust's consistency check on), and every session's CLI state
  and every device's baseline equal what the tables held before the stop;
- **recovery kill**: a worker ``kill -9``'ed while it restores its tables from the changelogs;
  the next one restores them whole (same table comparison).

The account of each: events in, processed, dead-lettered, lost (0), duplicate alerts (0), and
per-key order: for every key, the first output of each event comes in the order the events
were published (a redelivered event may repeat, never overtake).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaError

from bench.chaos import workload
from bench.chaos.common import Account, Env, Observer, Sent, publish_raw, settle
from bench.chaos.worker_crash import wait_outputs
from foundation.kafka_topics import min_insync_for
from foundation.settings import Settings
from labstream.kafka_cluster import KafkaCluster, topic_replication
from tests.fixtures.worker import WorkerProcess

NODES = 3  # bench.chaos runs this module on a three-node cluster

log = logging.getLogger(__name__)

Item = tuple[str, bytes | None, bytes | None, str | None]


# retries (kafka-python's default: no limit) within the delivery timeout never reorder nor duplicate
# within a partition: idempotence
THROUGH_LEADER_CHANGES = {
    "enable_idempotence": True,
    "retries": float("inf"),
    "delivery_timeout_ms": 180_000,
    "request_timeout_ms": 10_000,
    "retry_backoff_ms": 200,
}


def publish(bootstrap: str, items: list[Item], *, over_s: float = 0.0) -> list[Sent]:
    """``items`` through an idempotent acks=all producer that retries through leader changes."""
    return publish_raw(bootstrap, items, over_s=over_s, flush_s=240, **THROUGH_LEADER_CHANGES)


class CollectorTraffic:
    """Lab sessions typed through a real Collector (spool and all) in a thread, in seq order."""

    def __init__(self, settings: Settings, sessions: int, commands: int, over_s: float) -> None:
        self.settings, self.sessions, self.commands, self.over_s = settings, sessions, commands, over_s
        self.sent: list[Sent] = []
        self.by_key: dict[str, list[str]] = defaultdict(list)
        self.lost = 0
        self.drained = False
        self.spooled = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-collector", daemon=True)

    def start(self) -> CollectorTraffic:
        self._thread.start()
        return self

    def join(self, timeout: float = 300.0) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("collector traffic did not finish")
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        from prometheus_client import CollectorRegistry

        from producers import Collector

        try:
            topic = self.settings.topics.lab_events
            total = self.sessions * self.commands
            started = time.monotonic()
            registry = CollectorRegistry()
            overrides = {"delivery_timeout_ms": 120_000}
            with Collector(self.settings, registry, producer_overrides=overrides) as c:
                i = 0
                for seq in range(self.commands):
                    for s in range(self.sessions):
                        device_type, lines = workload.COMMANDS[s % len(workload.COMMANDS)]
                        sid = f"coll-sess-{s}"
                        eid = c.track_lab_command(
                            f"student-{s}", sid, seq, lines[seq % len(lines)], device_type
                        )
                        self.sent.append(Sent(topic, -1, -1, eid))
                        self.by_key[sid].append(eid)
                        i += 1
                        time.sleep(max(0.0, started + self.over_s * i / total - time.monotonic()))
                c.flush()
                self.drained = c.wait_drained(120)
                self.lost = c.lost
                self.spooled = int(registry.get_sample_value("labstream_spooled_total") or 0)
        except BaseException as e:  # noqa: BLE001 - re-raised by join()
            self.error = e


def inputs_by_key(items: list[Item]) -> dict[str, list[str]]:
    """Event ids per (topic, key), in publish order: the order each key's outputs must keep."""
    out: dict[str, list[str]] = defaultdict(list)
    for topic, key, _, eid in items:
        if eid is not None:
            out[f"{topic}/{(key or b'').decode()}"].append(eid)
    return out


def check_order(acc: Account, obs: Observer, *keyed: dict[str, list[str]]) -> None:
    """Per key, the first output of each event follows publish order (redeliveries may repeat)."""
    position = {eid: i for i, eid in enumerate(dict.fromkeys(obs.order))}  # first occurrence
    broken = checked = 0
    for mapping in keyed:
        for eids in mapping.values():
            seen = [position[e] for e in eids if e in position]
            if len(seen) < 2:
                continue
            checked += 1
            broken += seen != sorted(seen)
    acc.check(checked > 0, "no key had two outputs: order not checked")
    acc.check(broken == 0, f"per-key order broken for {broken} of {checked} keys")
    acc.detail += f"; per-key order kept for {checked - broken}/{checked} keys"


def leaders(cluster: KafkaCluster, topics: list[str]) -> dict[tuple[str, int], int]:
    """The leader node of each partition of ``topics`` (-1: none)."""
    from kafka import KafkaAdminClient

    live = [cluster.node_bootstrap(n) for n in cluster.node_ids if cluster.alive(n)]
    admin = KafkaAdminClient(bootstrap_servers=live, request_timeout_ms=5000)
    try:
        return {
            (t["topic"], p["partition"]): p["leader"]
            for t in admin.describe_topics(topics)
            for p in t["partitions"]
        }
    finally:
        admin.close()


def wait_in_sync(cluster: KafkaCluster, timeout: float = 120.0) -> float:
    """Wait until every partition of the cluster has all its replicas in sync; seconds waited."""
    from kafka import KafkaAdminClient

    started = time.monotonic()
    behind: list[tuple[str, int]] = []
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=5000)
            try:
                behind = [
                    (t["topic"], p["partition"])
                    for t in admin.describe_topics()
                    for p in t["partitions"]
                    if len(p["isr"]) < len(p["replicas"])
                ]
            finally:
                admin.close()
        except KafkaError:  # a node still starting: ask again
            behind = [("?", -1)]
        if not behind:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{len(behind)} partitions still under-replicated after {timeout}s")
        time.sleep(0.5)


def _restart_node(cluster: KafkaCluster, node: int) -> None:
    cluster.start_node(node)
    cluster.wait_ready(120, nodes=[node])


async def _traffic(env: Env, settings: Settings, *, scale: float, over_s: float):  # noqa: ANN202
    """Workload (raw producer) and collector sessions; returns (workload, head, rest task, collector)."""
    w = workload.build(settings, scale=scale)
    head = len(w.records) // 4
    sent = await asyncio.to_thread(publish, env.bootstrap, w.records[:head])
    rest = asyncio.create_task(asyncio.to_thread(publish, env.bootstrap, w.records[head:], over_s=over_s))
    n_sessions = 20 if env.quick else 60
    coll = CollectorTraffic(settings, n_sessions, 10 if env.quick else 20, over_s).start()
    return w, sent, rest, coll


async def _finish(
    acc: Account, obs: Observer, w: workload.Workload, sent: list[Sent], rest: Any, coll: CollectorTraffic
) -> None:
    sent = sent + await rest
    await asyncio.to_thread(coll.join)
    acc.check(coll.lost == 0, f"the collector lost {coll.lost} events")
    acc.check(coll.drained, "the collector's spool was not drained within 120 s")
    await settle(acc, obs, sent + coll.sent, wait_s=240, incidents=w.incidents)
    acc.check(acc.alerts >= w.expected_alerts, f"{acc.alerts} alerts, {w.expected_alerts} incidents injected")
    check_order(acc, obs, inputs_by_key(w.records), coll.by_key)
    acc.detail += f"; collector: {len(coll.sent)} events, {coll.spooled} through its spool"


def _cluster(env: Env) -> KafkaCluster:
    if env.cluster is None or env.cluster.nodes < 3:
        raise RuntimeError("the Kafka fault scenarios need the three-node cluster (env.cluster)")
    return env.cluster


async def leader_kill(env: Env) -> Account:
    acc = Account("kafka: input leader kill -9")
    cluster = _cluster(env)
    settings = env.settings()
    scale, over_s = (0.15, 12.0) if env.quick else (1.0, 45.0)
    async with Observer(settings) as obs:
        worker = env.worker(settings, "leader-kill")
        await asyncio.to_thread(worker.wait_ready)
        w, sent, rest, coll = await _traffic(env, settings, scale=scale, over_s=over_s)
        per_event = sum(1 for r in w.records if r[0] != settings.topics.network_metrics)
        at = await wait_outputs(obs, per_event // 3, 120)
        before = await asyncio.to_thread(leaders, cluster, settings.topics.inputs())
        votes: dict[int, int] = defaultdict(int)
        for node in before.values():
            votes[node] += 1
        victim = max(votes, key=lambda n: votes[n])
        killed_at = time.monotonic()
        log.warning("kill -9 of node %s (leads %s input partitions)", victim, votes[victim])
        cluster.stop_node(victim, kill=True)
        moved_in = None
        while time.monotonic() - killed_at < 60:
            try:
                now = await asyncio.to_thread(leaders, cluster, settings.topics.inputs())
            except KafkaError:  # the admin client may still pick the dead node: ask again
                await obs.pump(0.5)
                continue
            if all(leader not in (victim, -1) for leader in now.values()):
                moved_in = time.monotonic() - killed_at
                break
            await obs.pump(0.5)
        acc.check(moved_in is not None, "leadership did not move off the killed broker within 60 s")
        await obs.pump(3.0)  # keep processing with the broker down a while
        await asyncio.to_thread(_restart_node, cluster, victim)
        log.warning("node %s is back", victim)
        await _finish(acc, obs, w, sent, rest, coll)
        acc.check(worker.proc is not None and worker.proc.poll() is None, "the worker died")
    acc.detail = (
        f"node {victim} led {votes[victim]}/{len(before)} input partitions, killed after {at}/{per_event} "
        f"per-event outputs; leadership moved in {moved_in or float('nan'):.1f} s" + acc.detail
    )
    await asyncio.to_thread(wait_in_sync, cluster)
    return acc


async def rolling_restart(env: Env) -> Account:
    acc = Account("kafka: rolling restart, two workers")
    cluster = _cluster(env)
    settings = env.settings()
    scale, over_s = (0.15, 15.0) if env.quick else (1.0, 60.0)
    async with Observer(settings) as obs:
        workers = [env.worker(settings, f"rolling-{i}") for i in (1, 2)]
        for wk in workers:
            await asyncio.to_thread(wk.wait_ready)
        w, sent, rest, coll = await _traffic(env, settings, scale=scale, over_s=over_s)
        per_event = sum(1 for r in w.records if r[0] != settings.topics.network_metrics)
        await wait_outputs(obs, per_event // 5, 120)
        took = []
        for node in cluster.node_ids:
            t0 = time.monotonic()
            await asyncio.to_thread(cluster.stop_node, node)
            await asyncio.to_thread(_restart_node, cluster, node)
            await asyncio.to_thread(wait_in_sync, cluster)
            took.append(time.monotonic() - t0)
            await obs.pump(0.5)
        await _finish(acc, obs, w, sent, rest, coll)
        for wk in workers:
            acc.check(wk.proc is not None and wk.proc.poll() is None, f"worker {wk.log_path.name} died")
    acc.detail = "nodes restarted one by one in " + ", ".join(f"{t:.0f}" for t in took) + " s" + acc.detail
    return acc


# --- table contents: read from the changelogs, probed through a worker --------------------------


async def changelog_table(settings: Settings, table: str) -> dict[str, Any]:
    """A Faust table's contents as its changelog holds them (last value per key)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = f"{settings.app_id}-{table}-changelog"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[str, Any] = {}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    key = m.key.decode("utf-8") if m.key else ""  # raw keys (RawKeyTable)
                    if m.value is None:
                        out.pop(key, None)
                    else:
                        out[key] = json.loads(m.value)
        return out
    finally:
        await consumer.stop()


def _cli(state: Any) -> dict[str, Any] | None:
    """A session state's CLI part (``modes``, ``priv``): the rest (last ``seq``, its history, the
    time of the last command) is the pipeline's bookkeeping, not the mode the next command meets."""
    if not isinstance(state, dict):
        return None
    return {k: state[k] for k in ("modes", "priv") if k in state}


def _probes(
    settings: Settings, sessions: dict[str, Any], baselines: dict[str, Any]
) -> tuple[list[Item], dict]:
    """One more command per session and one normal reading per device, with what they must yield."""
    from stream_processors.commands.interpreter import interpret

    t = settings.topics
    at = datetime.now(UTC) - timedelta(minutes=30)
    items: list[Item] = []
    expect: dict[str, Any] = {"probes": set(), "states": {}, "n": {}, "discriminating": 0}
    kinds = {f"chaos-sess-{s}": workload.COMMANDS[s % len(workload.COMMANDS)] for s in range(1000)}
    for sid, state in sessions.items():
        if sid not in kinds:
            continue
        device_type, lines = kinds[sid]
        command = lines[-1]
        e = {
            "event_id": str(uuid.uuid4()),
            "event_type": "lab_command",
            "schema_version": 1,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "source": "chaos",
            "anonymous_id": "anon-probe",
            "session_id": sid,
            "seq": 10_000,
            "device_type": device_type,
            "command": command,
        }
        r = interpret(_cli(state), device_type, command)
        expect["probes"].add(e["event_id"])
        expect["states"][sid] = r.state
        fresh = interpret(None, device_type, command)
        expect["discriminating"] += (fresh.mode, fresh.state) != (r.mode, r.state)
        items.append((t.lab_events, sid.encode(), json.dumps(e).encode(), e["event_id"]))
    for device, baseline in baselines.items():
        e = {
            "event_id": str(uuid.uuid4()),
            "event_type": "network_metrics",
            "schema_version": 1,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "source": "chaos",
            "device_id": device,
            **workload.NORMAL,
        }
        expect["n"][device] = int(baseline["n"]) + 1
        items.append((t.network_metrics, device.encode(), json.dumps(e).encode(), e["event_id"]))
    return items, expect


async def _probe_tables(
    env: Env, acc: Account, settings: Settings, before: dict[str, dict[str, Any]], obs: Observer
) -> list[Sent]:
    """After a restart: the changelogs still hold ``before``, and a worker's tables equal it.

    Each probe's result depends on the table entry the worker holds: a command's mode and the
    session's next state on its CLI state; a device's baseline count on its baseline (n + 1).
    """
    for table, contents in before.items():
        after = await changelog_table(settings, table)
        acc.check(after == contents, f"{table}: the changelog after the restart differs from before")
    items, expect = _probes(settings, before["cli-sessions"], before["device-baselines"])
    acc.check(
        expect["discriminating"] > 0,
        "no session probe tells a recovered table from an empty one "
        f"(sessions table: {len(before['cli-sessions'])} keys, e.g. {list(before['cli-sessions'])[:2]})",
    )
    sent = await asyncio.to_thread(publish, env.bootstrap, items)
    probe_ids = expect["probes"]
    deadline = time.monotonic() + 120
    while not probe_ids <= obs.output_ids and time.monotonic() < deadline:
        await obs.pump(0.5)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the batch's table writes reach the changelog after its outputs
        sessions = await changelog_table(settings, "cli-sessions")
        baselines = await changelog_table(settings, "device-baselines")
        if all(_cli(sessions.get(s)) == st for s, st in expect["states"].items()) and all(
            baselines.get(d, {}).get("n") == n for d, n in expect["n"].items()
        ):
            break
        await obs.pump(0.5)
    bad_states = sum(_cli(sessions.get(s)) != st for s, st in expect["states"].items())
    bad_n = sum(baselines.get(d, {}).get("n") != n for d, n in expect["n"].items())
    acc.check(bad_states == 0, f"{bad_states} sessions' CLI state differ from before the restart")
    sample = [
        (d, before["device-baselines"][d].get("n"), baselines.get(d, {}).get("n")) for d in expect["n"]
    ][:3]
    acc.check(
        bad_n == 0, f"{bad_n} devices' baselines differ from before the restart (n before/after: {sample})"
    )
    acc.detail += (
        f"; tables equal before/after: {len(expect['states'])} sessions "
        f"({expect['discriminating']} discriminating probes), {len(expect['n'])} device baselines"
    )
    return sent


def _absorb(acc: Account, probes: Account) -> None:
    """Count the table probes' records (sent after the restart) into the scenario's account."""
    acc.events_in += probes.events_in
    acc.processed += probes.processed
    acc.dead_lettered += probes.dead_lettered
    acc.lost += probes.lost
    acc.failures += probes.failures


async def cluster_restart(env: Env) -> Account:
    acc = Account("kafka: whole cluster restart")
    cluster = _cluster(env)
    settings = env.settings()
    w = workload.build(settings, scale=0.15 if env.quick else 1.0)
    async with Observer(settings) as obs:
        worker = env.worker(settings, "restart-1")
        await asyncio.to_thread(worker.wait_ready)
        sent = await asyncio.to_thread(publish, env.bootstrap, w.records)
        await settle(acc, obs, sent, wait_s=240, incidents=w.incidents)
        code = await asyncio.to_thread(worker.stop)
        acc.check(code == 0, f"worker exited with {code} on SIGTERM")
        before = {t: await changelog_table(settings, t) for t in ("cli-sessions", "device-baselines")}
    for table in before:  # Faust's changelogs are replicated like LabStream's topics
        rf = settings.replication_factor or 1
        got = await asyncio.to_thread(
            topic_replication, env.bootstrap, f"{settings.app_id}-{table}-changelog"
        )
        acc.check(
            got == ({rf}, str(min_insync_for(rf))), f"{table} changelog: replicas/min ISR {got}, not {rf}"
        )
    t0 = time.monotonic()
    await asyncio.to_thread(cluster.stop)
    await asyncio.to_thread(cluster.start)
    restarted_in = time.monotonic() - t0
    probe_acc = Account(acc.scenario)
    async with Observer(settings) as obs:
        await obs.pump(2.0)
        second = env.worker(settings, "restart-2")
        await asyncio.to_thread(second.wait_ready)
        probes = await _probe_tables(env, probe_acc, settings, before, obs)
        await settle(probe_acc, obs, probes, wait_s=120)
        check_order(acc, obs, inputs_by_key(w.records))
        acc.check(second.proc is not None and second.proc.poll() is None, "the restarted worker died")
        acc.check("consistency" not in second.log_tail(400).lower(), "a consistency check failed on recovery")
    _absorb(acc, probe_acc)
    acc.detail = f"cluster stopped and started again in {restarted_in:.0f} s" + probe_acc.detail + acc.detail
    return acc


async def recovery_kill(env: Env) -> Account:
    acc = Account("kafka: worker kill -9 during table recovery")
    _cluster(env)
    settings = env.settings()
    w = workload.build(settings, scale=0.15 if env.quick else 1.0)
    async with Observer(settings) as obs:
        first = env.worker(settings, "recover-1")
        await asyncio.to_thread(first.wait_ready)
        sent = await asyncio.to_thread(publish, env.bootstrap, w.records)
        await settle(acc, obs, sent, wait_s=240, incidents=w.incidents)
        await asyncio.to_thread(first.stop)
        before = {t: await changelog_table(settings, t) for t in ("cli-sessions", "device-baselines")}
        victim = WorkerProcess(
            settings, env.root / f"recover-2-{uuid.uuid4().hex[:6]}.log", ("--log-level", "info")
        )
        victim.start()
        env.on_close(lambda: victim.stop(kill=True))
        mid_recovery = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log = victim.log_path.read_text(errors="replace")
            if "Restoring state from changelog topics" in log:
                assert victim.proc is not None
                victim.proc.kill()
                victim.proc.wait(10)
                mid_recovery = "Done reading from changelog topics" not in victim.log_path.read_text(
                    errors="replace"
                )
                break
            await asyncio.sleep(0.01)
        acc.check(victim.proc is not None and victim.proc.returncode is not None, "recovery never started")
        third = env.worker(settings, "recover-3")
        await asyncio.to_thread(third.wait_ready)
        probe_acc = Account(acc.scenario)
        probes = await _probe_tables(env, probe_acc, settings, before, obs)
        await settle(probe_acc, obs, probes, wait_s=120)
        check_order(acc, obs, inputs_by_key(w.records))
        acc.check(third.proc is not None and third.proc.poll() is None, "the next worker died")
    _absorb(acc, probe_acc)
    acc.detail = (
        f"killed {'while restoring (before the restore finished)' if mid_recovery else 'after the restore'}"
        + probe_acc.detail
        + acc.detail
    )
    return acc


SCENARIOS = (leader_kill, rolling_restart, cluster_restart, recovery_kill)


async def run(env: Env) -> list[Account]:
    return [await scenario(env) for scenario in SCENARIOS]
