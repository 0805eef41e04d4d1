"""``make chaos`` (``python -m bench.chaos``): every scenario at full size, one table.

``--quick`` runs the reduced sizes that ``tests/chaos/`` runs in CI (and a 60 s soak);
``--only NAME`` (repeatable) picks scenarios, e.g. ``--only soak``. Exit status 1 when
any scenario loses an event, raises a duplicate alert, fails a check, or cannot run.
The table is also written to ``reports/chaos.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.chaos import SCENARIOS, Account, environment

COLUMNS = ["scenario", "events in", "processed", "dead-lettered", "lost", "dup. alerts", "redelivered",
           "RSS MB start/end", "lag start/end", "ok"]  # fmt: skip


def _row(a: Account) -> list[str]:
    rss = f"{a.rss_mb[0]:.0f} / {a.rss_mb[1]:.0f}" if a.rss_mb else ""
    lag = f"{a.lag[0]} / {a.lag[1]}" if a.lag else ""
    counts = [a.events_in, a.processed, a.dead_lettered, a.lost, a.duplicate_alerts, a.redelivered_alerts]
    return [a.scenario, *map(str, counts), rss, lag, "yes" if a.ok else "NO"]


def print_table(accounts: list[Account], title: str) -> None:
    rows = [COLUMNS] + [_row(a) for a in accounts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    print(f"\n{title}")
    for i, r in enumerate(rows):
        print(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for a in accounts:
        print(f"- {a.scenario}: {a.detail}")
        for f in a.failures:
            print(f"  FAILED: {f}")


async def run_all(names: list[str], quick: bool, root: Path) -> list[Account]:
    """Each scenario on Apache Kafka: one node, or three for those that declare ``NODES = 3``.

    The one-node cluster's second listener sits behind a TCP proxy (``env.proxy``), for the
    scenarios that take Kafka away from its clients.
    """
    from labstream.broker import free_port
    from labstream.kafka_cluster import KafkaCluster
    from tests.fixtures.proxy import Proxy

    accounts: list[Account] = []
    clusters: dict[int, KafkaCluster] = {}
    proxy = Proxy(free_port())
    try:
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                module = importlib.import_module(name)
                nodes = int(getattr(module, "NODES", 1))
                proxied = (proxy.target, proxy.port) if nodes == 1 else None
                if nodes not in clusters:
                    clusters[nodes] = KafkaCluster(
                        root / f"kafka-{nodes}", nodes=nodes, proxied=proxied
                    ).start()
                cluster = clusters[nodes]
                where = root / name.rsplit(".", 1)[-1]
                with environment(
                    cluster.bootstrap, where, quick=quick, cluster=cluster, proxy=proxy if proxied else None
                ) as env:
                    out = await module.run(env)
                accounts += out if isinstance(out, list) else [out]
            except Exception as e:  # noqa: BLE001 - one failing scenario must not hide the others
                traceback.print_exc()
                accounts.append(Account(name.rsplit(".", 1)[-1], failures=[f"did not run: {e!r}"[:300]]))
            print(f"   {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        for cluster in clusters.values():
            cluster.stop()
        proxy.cut()
    return accounts


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--quick", action="store_true", help="the reduced sizes CI runs (soak: 60 s)")
    parser.add_argument("--only", action="append", help="scenario module(s), e.g. soak or bench.chaos.soak")
    parser.add_argument("--out", type=Path, default=Path("reports/chaos.json"))
    args = parser.parse_args(argv)
    names = [n if n.startswith("bench.") else f"bench.chaos.{n}" for n in (args.only or SCENARIOS)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labstream-chaos-") as tmp:
        accounts = asyncio.run(run_all(names, args.quick, Path(tmp)))
    size = "quick" if args.quick else "full"
    print_table(
        accounts,
        f"LabStream chaos ({size}), {_today()}, {time.monotonic() - started:.0f} s",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "date": _today(),
        "size": size,
        "rows": [dataclasses.asdict(a) for a in accounts],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(a.ok for a in accounts) else 1


if __name__ == "__main__":
    sys.exit(main())
