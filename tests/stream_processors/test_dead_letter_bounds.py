"""A dead letter stays deliverable whatever the size of the record it carries (issue 6, bad input)."""

from __future__ import annotations

import base64
import hashlib

from schemas import DeadLetter
from stream_processors.records import MAX_DEAD_KEY, MAX_DEAD_VALUE, Record, to_dead_letter


def test_a_10_mb_value_is_kept_truncated_with_its_size_and_digest() -> None:
    value = b'{"code": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    key = b"k" * (64 * 1024)
    d = to_dead_letter(Record("student-events", 1, 42, key, value), "validate", "code: too long")
    raw = d.to_bytes()
    assert len(raw) < 1_000_000, "must fit Kafka's default 1 MB record limit"
    back = DeadLetter.from_bytes(raw)
    assert back.original_value() == value[:MAX_DEAD_VALUE]
    assert base64.b64decode(back.key or "") == key[:MAX_DEAD_KEY]
    assert back.error.startswith("code: too long; ")
    assert f"of {len(value)} bytes" in back.error and hashlib.sha256(value).hexdigest() in back.error


def test_small_records_are_kept_whole() -> None:
    d = to_dead_letter(Record("lab-events", 0, 7, b"sess-1", b"not json"), "decode", "not UTF-8 JSON")
    assert d.original_value() == b"not json" and d.error == "not UTF-8 JSON"
