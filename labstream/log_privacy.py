"""No log level leaks: third-party DEBUG lines that carry record keys or values are redacted.

At DEBUG, aiokafka logs every produced record (``Sending (key=... value=...)``), Faust
every send (``send: topic=... k=... v=...``), kafka-python its records too, and uvicorn's
access log prints each request's query string. Keys are pseudonyms and values scrubbed
events: none of them belongs in a log (``docs/privacy.md``).

:func:`install` wraps the logging record factory, so it applies to every record of every
logger, whatever handlers Faust, mode or uvicorn install later:

- a record below INFO from a logger that is not LabStream's own, whose text carries a
  record's contents (``key=``, ``value=``, ``k=``/``v=``, a bytes literal, a record
  repr) or a pseudonym, keeps its message template with every value replaced by
  ``<redacted>``: the line still says *what* happened, never *with what*;
- uvicorn's access lines lose their query string (``/v1/events?<query redacted>``);
- any record, at any level, from any logger: text shaped like a pseudonym
  (``<key id>-<32 hex digits>``) becomes ``<pseudonym>``.

``labstream`` (the CLI) installs it first thing; ``tests/integration/test_debug_logs_private.py``
runs a worker and the API at DEBUG through planted values and scans every line.

>>> import logging
>>> install()
>>> line, args = "Sending (key=%s value=%s) to %s", (b"k", b"v", "tp")
>>> r = logging.getLogger("x").makeRecord("aiokafka.producer", logging.DEBUG, "f", 1, line, args, None)
>>> r.getMessage()
'Sending (key=<redacted> value=<redacted>) to <redacted> [values redacted by LabStream]'
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["install", "redact"]

_OWN = ("labstream", "producers", "stream_processors", "detector", "schemas", "bench")
# what a record's contents look like inside a third-party DEBUG line
_PAYLOAD = re.compile(
    r"\b(?:key|value|k|v|headers|payload|records?)=|\bb'|\bb\"|ConsumerRecord\(|Message\(|yielded:|\{\"",
)
PSEUDONYM = re.compile(r"\b[A-Za-z0-9_.:]{1,32}-[0-9a-f]{32}\b")
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa]")
_MARK = " [values redacted by LabStream]"
_installed: list[Any] = []


def redact(record: logging.LogRecord) -> logging.LogRecord:
    """Redact ``record`` in place (see the module docstring) and return it."""
    if record.name.startswith("uvicorn.access") and isinstance(record.args, tuple) and len(record.args) >= 3:
        args = list(record.args)
        path = str(args[2])
        if "?" in path:
            args[2] = path.split("?", 1)[0] + "?<query redacted>"
            record.args = tuple(args)
    if record.name == "kafka.producer.kafka" and "key=" in str(record.msg) and isinstance(record.args, tuple):
        # the same rewrite as producers.delivery.RedactRecordPayloads (which then leaves it alone)
        record.msg = "%s: Sending a record (key and value redacted by LabStream) to %s"
        record.args = (record.args[0], record.args[-1]) if len(record.args) >= 2 else ("?", "?")
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken record is logging's problem, reported when emitted
        return record
    if record.levelno < logging.INFO and not record.name.startswith(_OWN):
        if _PAYLOAD.search(text) or PSEUDONYM.search(text):
            template = record.msg if isinstance(record.msg, str) else ""
            if record.args and _CONVERSION.search(template):
                record.msg = _CONVERSION.sub("<redacted>", template.replace("%%", "%")) + _MARK
            else:  # rendered before logging (an f-string): nothing of it can be kept
                record.msg = f"a {record.name} debug line that may carry record contents{_MARK}"
            record.args = ()
            return record
    if PSEUDONYM.search(text):
        record.msg = PSEUDONYM.sub("<pseudonym>", text)
        record.args = ()
    return record


def install() -> None:
    """Wrap the logging record factory with :func:`redact` (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed.append(factory)
