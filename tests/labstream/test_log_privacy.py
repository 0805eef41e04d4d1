"""The record factory of labstream.log_privacy: what is redacted, what is kept (issue 15)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from labstream import log_privacy

PSEUDO = "k1-" + "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    """Installed for these tests only: the rest of the session keeps logging's own factory."""
    before = logging.getLogRecordFactory()
    log_privacy.install()
    yield
    logging.setLogRecordFactory(before)
    log_privacy._installed.clear()  # noqa: SLF001


def _record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, level, "f", 1, msg, args, None)


@pytest.mark.parametrize(
    ("name", "msg", "args"),
    [
        (
            "aiokafka.producer.producer",
            "Sending (key=%s value=%s) to %s",
            (PSEUDO.encode(), b'{"a":1}', "tp"),
        ),
        (
            "faust.transport.drivers.aiokafka",
            "send: topic=%r k=%r v=%r timestamp=%r partition=%r",
            ("t", b"x", b"y", None, 0),
        ),
        (
            "kafka.producer.kafka",
            "%s: Sending (key=%r value=%r headers=%r) to %s",
            ("<P>", b"k", b"v", [], "tp"),
        ),
        ("faust.agents.agent", "%r yielded: %r", ("fun", {"anonymous_id": PSEUDO})),
        ("kafka.conn", f"fetched {PSEUDO} records", ()),  # rendered before logging
    ],
)
def test_third_party_debug_lines_with_contents_are_redacted(name: str, msg: str, args: tuple) -> None:
    text = _record(name, logging.DEBUG, msg, *args).getMessage()
    assert "redacted" in text and PSEUDO not in text and "b'" not in text and '{"a"' not in text


def test_what_is_kept() -> None:
    plain = _record("aiokafka.consumer", logging.DEBUG, "Heartbeat for group %s", "g1").getMessage()
    assert plain == "Heartbeat for group g1"  # nothing record-like: untouched
    ours = _record("stream_processors.app", logging.DEBUG, "batch of %d", 5).getMessage()
    assert ours == "batch of 5"
    # a pseudonym anywhere, at any level, from any logger
    warn = _record("labstream.api", logging.WARNING, "odd key %s", PSEUDO).getMessage()
    assert warn == "odd key <pseudonym>"


def test_uvicorn_access_lines_lose_the_query_string() -> None:
    args = ("127.0.0.1:5", "POST", "/v1/events?student=s-1&key=abc", "1.1", 202)
    text = _record("uvicorn.access", logging.INFO, '%s - "%s %s HTTP/%s" %d', *args).getMessage()
    assert text == '127.0.0.1:5 - "POST /v1/events?<query redacted> HTTP/1.1" 202'


def test_install_is_idempotent() -> None:
    factory = logging.getLogRecordFactory()
    log_privacy.install()
    assert logging.getLogRecordFactory() is factory
