"""Operator subcommands: ``deadletters list|replay``, ``pseudonym`` and ``alertmanager``."""

from __future__ import annotations

import argparse
import sys

from foundation.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deadletters", help="inspect the dead-letters topic, or replay it after a fix")
    dl = p.add_subparsers(dest="dl_command", required=True, metavar="ACTION")
    lst = dl.add_parser("list", help="counts by topic, stage and reason, and the latest entries")
    lst.add_argument("--last", type=int, default=10, help="how many of the latest entries to show")
    lst.set_defaults(handler=_list)
    rp = dl.add_parser("replay", help="re-publish the original bytes to the original topics")
    rp.add_argument("--stage", choices=["decode", "validate", "process"], help="only this stage")
    rp.add_argument("--topic", help="only dead letters from this original topic")
    rp.add_argument("--from-offset", type=int, default=0, help="only dead letters at or after this offset")
    rp.add_argument("--dry-run", action="store_true", help="count what would be replayed, send nothing")
    rp.set_defaults(handler=_replay)

    p = sub.add_parser(
        "pseudonym",
        help="the anonymous_id(s) of student ids (one way: id → pseudonym), e.g. for a tutor",
    )
    p.add_argument("student_ids", nargs="+", metavar="STUDENT_ID")
    p.set_defaults(handler=_pseudonym)

    p = sub.add_parser(
        "alertmanager", help="forward the alerts topic to Alertmanager's v2 API (firing, re-sent, resolved)"
    )
    p.add_argument("--url", help="Alertmanager base URL (default: LABSTREAM_ALERTMANAGER_URL)")
    p.set_defaults(handler=_alertmanager)


def _need_kafka(settings: Settings) -> bool:
    if settings.bootstrap_list:
        return True
    print("labstream: set LABSTREAM_BOOTSTRAP_SERVERS (the embedded broker keeps nothing)", file=sys.stderr)
    return False


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from labstream.deadletters import read_dead_letters, summarise

    if not _need_kafka(settings):
        return 2
    entries = read_dead_letters(settings)
    print(f"{len(entries)} dead letters in {settings.topics.dead_letters}")
    for (topic, stage, reason), n in summarise(entries).most_common():
        print(f"  {n:>7}  {topic:<24} {stage:<9} {reason}")
    if entries and args.last > 0:
        print("latest:")
        for e in sorted(entries, key=lambda e: e.letter.failed_at)[-args.last :]:
            d = e.letter
            print(
                f"  {d.failed_at:%Y-%m-%d %H:%M:%S} {d.original_topic}[{d.partition}]@{d.offset} "
                f"{d.stage}: {d.error[:120]}"
            )
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from labstream.deadletters import read_dead_letters, replay

    if not _need_kafka(settings):
        return 2
    entries = [e for e in read_dead_letters(settings) if e.offset >= args.from_offset]

    def keep(d: object) -> bool:
        return (args.stage is None or d.stage == args.stage) and (  # type: ignore[attr-defined]
            args.topic is None or d.original_topic == args.topic  # type: ignore[attr-defined]
        )

    if args.dry_run:
        n = sum(1 for e in entries if keep(e.letter))
        print(f"would replay {n} of {len(entries)} dead letters")
        return 0
    counts = replay(settings, entries, keep)
    total = sum(counts.values())
    print(
        f"replayed {total} of {len(entries)} dead letters: "
        + (", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "none matched")
    )
    return 0


def _pseudonym(args: argparse.Namespace, settings: Settings) -> int:
    from producers import Pseudonymizer

    p = Pseudonymizer.from_settings(settings)
    for sid in args.student_ids:
        names = p.pseudonyms_during_rotation(sid)
        print(f"{sid}\t" + "\t".join(names[k] for k in sorted(names, key=lambda k: k != p.key_id)))
    return 0


def _alertmanager(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from labstream.alertmanager import Bridge

    if not _need_kafka(settings):
        return 2
    if args.url:
        settings = settings.model_copy(update={"alertmanager_url": args.url})
    bridge = Bridge(settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: bridge.stop.set())
    print(f"labstream: alerts topic {settings.topics.alerts} -> {settings.alertmanager_url}", file=sys.stderr)
    bridge.run()
    return 0
