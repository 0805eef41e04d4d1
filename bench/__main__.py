"""``make bench``: run every benchmark on one embedded broker and print one table.

Each benchmark module exposes ``run(bootstrap) -> list[row]`` (or ``run()``
when it needs no broker); a row is ``{"name", "value", "unit", "target",
"detail"}``; ``"failed": True`` on a row makes the run fail without losing the
module's other rows. The table is also written to ``reports/bench.json`` with the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

MODULES = [
    "bench.detector",
    "bench.limits",
    "bench.collector",
    "bench.pipeline",
    "bench.pipeline_kafka",
    "bench.isolation",
]


def _meets(row: dict[str, Any]) -> str:
    target = str(row.get("target") or "")
    value = row.get("value")
    if not target or not isinstance(value, int | float):
        return ""
    op, _, num = target.partition(" ")
    try:
        bound = float(num)
    except ValueError:
        return ""
    ok = value >= bound if op == ">=" else value <= bound if op == "<=" else None
    return "" if ok is None else ("met" if ok else "NOT MET")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", action="append", help="module name(s) to run, e.g. bench.collector")
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    args = parser.parse_args(argv)

    from labstream.broker import EmbeddedBroker

    rows: list[dict[str, Any]] = []
    failed = []
    started = time.monotonic()
    with EmbeddedBroker() as broker:
        for name in args.only or MODULES:
            print(f"== {name}", file=sys.stderr, flush=True)
            try:
                mod = importlib.import_module(name)
                run = mod.run
                out = run(broker.bootstrap) if inspect.signature(run).parameters else run()
                for r in out:
                    r.setdefault("module", name)
                rows.extend(out)
                if any(r.get("failed") for r in out):  # a part failed, its other rows stand
                    failed.append(name)
            except Exception:  # noqa: BLE001 - one failing benchmark must not hide the others
                traceback.print_exc()
                failed.append(name)
    width = max([len(r["name"]) for r in rows] + [10])
    today = dt.datetime.now(dt.UTC).date().isoformat()
    print(f"\nLabStream benchmarks, {today}, {time.monotonic() - started:.0f} s")
    print(f"{'figure':<{width}}  {'value':>10}  {'unit':<8} {'target':<8} {'':<7}  detail")
    for r in rows:
        v = r.get("value")
        vs = f"{v:10.3f}" if isinstance(v, float) else f"{v!s:>10}"
        print(
            f"{r['name']:<{width}}  {vs}  {r.get('unit', ''):<8} {r.get('target') or '':<8} "
            f"{_meets(r):<7}  {r.get('detail', '')}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"date": dt.datetime.now(dt.UTC).date().isoformat(), "rows": rows}, indent=2) + "\n"
    )
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
