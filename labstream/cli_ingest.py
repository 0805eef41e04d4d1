"""Ingest subcommands: ``api`` (the HTTP ingest service) and ``replay FILE.jsonl``."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

from foundation.exceptions import ConfigurationError
from foundation.settings import Settings

__all__ = ["register"]

_SHOWN_REJECTS = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve POST /v1/events, /metrics and /docs (uvicorn)")
    p.add_argument("--host", default=None, help="default: settings.api_host")
    p.add_argument("--port", type=int, default=None, help="default: settings.api_port")
    p.set_defaults(handler=_api)

    p = sub.add_parser("replay", help="publish a JSONL export (one collector event per line)")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--format",
        choices=("events", "xapi"),
        default="events",
        help="events: collector input (default); xapi: one xAPI statement per line, mapped as at "
        "POST /xapi/statements (statements of no use to LabStream are counted and skipped)",
    )
    p.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for the spool to drain at the end"
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_replay)


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from labstream.api import create_api
    from labstream.runtime import broker_for, create_topics

    if not settings.api_tokens:
        if settings.environment == "production":
            raise ConfigurationError("production API needs LABSTREAM_API_TOKENS")
        token = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"api_tokens": [SecretStr(token)]})
        sys.stderr.write(f"labstream api: no LABSTREAM_API_TOKENS; development token for this run: {token}\n")
    with broker_for(settings) as s:
        create_topics(s)
        app = create_api(s)
        uvicorn.run(app, host=args.host or s.api_host, port=args.port or s.api_port, log_level="info")
    return 0


def _json_line(line: bytes) -> object:
    """One JSON document; :class:`InvalidEventError` (no value quoted) when it is not one."""
    import json

    from producers import InvalidEventError

    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidEventError(
            [{"index": None, "field": "", "type": "json_invalid", "message": "malformed JSON"}]
        ) from None


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from labstream.runtime import broker_for, create_topics
    from producers import Collector, InvalidEventError, validate_event, validate_json_event
    from producers.xapi import map_statement

    path: Path = args.file
    with path.open("rb") as f:
        total = sum(1 for _ in f)
    rejected: list[tuple[int, str]] = []
    reasons: Counter[str] = Counter()
    submitted = 0
    skipped: Counter[str] = Counter()
    xapi = args.format == "xapi"
    with broker_for(settings) as s:
        create_topics(s)
        with Collector(s, source="labstream-replay") as c, path.open("rb") as f:
            spooled_before = c.spool.appended_total
            bar = tqdm(f, total=total, unit="ev", file=sys.stderr, disable=args.no_progress, desc="replay")
            for lineno, line in enumerate(bar, start=1):
                if not line.strip():
                    continue
                try:
                    if xapi:
                        mapped = map_statement(_json_line(line))
                        if mapped.event is None:
                            skipped[mapped.verb] += 1
                            continue
                        c.submit(validate_event(mapped.event))
                    else:
                        c.submit(validate_json_event(line))
                    submitted += 1
                except InvalidEventError as e:
                    why = "; ".join(f"{err['field'] or '(line)'}: {err['message']}" for err in e.errors)
                    rejected.append((lineno, why))
                    reasons.update(err["type"] for err in e.errors)
            bar.close()
            c.flush()
            spooled = c.spool.appended_total - spooled_before
            drained = c.wait_drained(args.wait) if c.spool.depth else True
            left = c.spool.depth
    out = sys.stdout
    out.write(f"published {submitted - spooled}, spooled {spooled}")
    out.write(f" ({left} still in the spool, sent at the next start)\n" if not drained else "\n")
    if xapi:
        verbs = ", ".join(f"{k}: {n}" for k, n in skipped.most_common())
        out.write(
            f"skipped {sum(skipped.values())} statements of no use" + (f" ({verbs})" if verbs else "") + "\n"
        )
    out.write(
        f"rejected {len(rejected)}"
        + (f" ({', '.join(f'{k}: {n}' for k, n in reasons.most_common())})" if rejected else "")
        + "\n"
    )
    for lineno, why in rejected[:_SHOWN_REJECTS]:
        out.write(f"  line {lineno}: {why}\n")
    if len(rejected) > _SHOWN_REJECTS:
        out.write(f"  ... and {len(rejected) - _SHOWN_REJECTS} more\n")
    return 1 if rejected else 0
