"""The ``labstream`` command line.

Each subcommand group lives in its own module exposing
``register(subparsers) -> None``; the modules are listed in
``_SUBCOMMAND_MODULES``. A handler receives the parsed namespace and the
settings built here, once, and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from foundation.exceptions import LabStreamError
from foundation.settings import Settings
from labstream import log_privacy

_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "labstream.cli_core",  # broker, worker, up, alerts, schemas
    "labstream.cli_ops",  # deadletters, pseudonym, alertmanager
    "labstream.cli_model",  # model train/evaluate/list/promote/rollback
    "labstream.cli_ingest",  # api, replay
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labstream",
        description="LabStream: anonymised student and lab events through Kafka, checked and scored.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_privacy.install()  # before anything logs: third-party DEBUG lines lose record contents
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("aiokafka", "faust", "mode", "uvicorn.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # kafka-python warns on every admin/metadata client without a group; only its errors matter here
        logging.getLogger("kafka").setLevel(logging.ERROR)
    try:
        settings = Settings()
    except ValidationError as e:  # e.g. a short API token: say which setting and why, never its value
        for err in e.errors(include_url=False, include_input=False):
            name = "LABSTREAM_" + "_".join(str(p) for p in err["loc"][:1]).upper()
            print(f"labstream: error: {name}: {err['msg']}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings) or 0)
    except LabStreamError as e:
        print(f"labstream: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
