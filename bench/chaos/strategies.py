"""Hypothesis strategies for bad input: what a broken or hostile producer sends.

Each case is ``(kind, key, value)``: raw bytes for a Kafka input topic, or a JSON
body for ``POST /v1/events``. Most cases start from a valid event and break one
thing, so the worker gets past the cheap checks before it fails; a few are valid
events with unusual text (they must be processed, not dead-lettered).
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

TOPIC_KINDS = ("code_submission", "lab_command", "network_metrics")
_UNICODE_EDGES = [
    "\u0000",
    "\ufeff",
    "\u202e",
    "\u200b",
    "\U0001f4a9",
    "e\u0301",
    "\uffff",
    "\ud7ff",
    "\U0010ffff",
    "\u2028",
    "\\",
    '"',
    "İ",
    "ß",
]


def valid(kind: str, *, collector: bool = False) -> dict[str, Any]:
    """A valid event of ``kind``: a topic value, or collector input (``student_id``)."""
    e: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "schema_version": 1,
        "occurred_at": "2026-01-05T10:00:00Z",
        "source": "chaos",
    }
    who = {"student_id": "stud-chaos-1"} if collector else {"anonymous_id": "anon-chaos-0001"}
    if kind == "code_submission":
        e |= who | {"exercise_id": "ex-1", "language": "python", "code": "print(1)\n"}
    elif kind == "lab_command":
        e |= who | {"session_id": "sess-1", "seq": 3, "device_type": "cisco_ios", "command": "sh ip int br"}
    else:
        e |= {
            "device_id": "r1",
            "packet_loss": 0.01,
            "latency_ms": 20.0,
            "bandwidth_utilization": 0.5,
            "connection_count": 100,
            "error_rate": 0.001,
        }
    return e


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _mutated(draw: st.DrawFn, kind: str, collector: bool) -> tuple[str, Any]:
    """A valid event with one thing broken; returns (mutation, object or raw text)."""
    e = valid(kind, collector=collector)
    fields = sorted(e)
    how = draw(
        st.sampled_from(
            [
                "wrong_type",
                "missing",
                "extra",
                "out_of_range",
                "nan_inf",
                "nested_field",
                "huge_array_field",
                "unicode_valid",
                "unicode_key",
                "lone_surrogate",
                "not_object",
            ]
        )
    )
    if how == "wrong_type":
        f = draw(st.sampled_from(fields))
        e[f] = draw(_json.filter(lambda v, old=e[f]: type(v) is not type(old)))
    elif how == "missing":
        for f in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
            e.pop(f, None)
    elif how == "extra":
        name = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in e))
        e[name] = draw(_json)
    elif how == "out_of_range":
        numeric = [f for f in fields if isinstance(e[f], int | float) and not isinstance(e[f], bool)]
        f = draw(st.sampled_from(numeric))
        e[f] = draw(
            st.sampled_from([-1, -(10**30), 10**400, 2, 1e308, -1e-300, 1.5, 2**63])
            if f != "schema_version"
            else st.sampled_from([0, 2, 99, -1, 10**20])
        )
    elif how == "nan_inf":
        numeric = [f for f in fields if isinstance(e[f], int | float) and not isinstance(e[f], bool)]
        e[draw(st.sampled_from(numeric))] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        return how, json.dumps(e)  # Python writes NaN/Infinity literals: not JSON
    elif how == "nested_field":
        depth = draw(st.integers(1, 5000))
        f = draw(st.sampled_from(fields))
        return how, json.dumps(e).replace(f'"{f}": ', f'"{f}": ' + "[" * depth, 1)[:-1] + "]" * depth + "}"
    elif how == "huge_array_field":
        e[draw(st.sampled_from(fields))] = [0] * draw(st.integers(1000, 50_000))
    elif how == "unicode_valid":  # still a valid event: must be processed
        text_field = {"code_submission": "code", "lab_command": "command", "network_metrics": "device_id"}[
            kind
        ]
        e[text_field] = "".join(draw(st.lists(st.sampled_from(_UNICODE_EDGES), min_size=1, max_size=20)))
        e[text_field] += draw(st.text(max_size=50))
        if kind == "network_metrics":
            e[text_field] = e[text_field][:200]
    elif how == "unicode_key":
        e[draw(st.sampled_from(_UNICODE_EDGES))] = 1
    elif how == "lone_surrogate":
        f = draw(st.sampled_from([f for f in fields if isinstance(e[f], str)]))
        return how, json.dumps(e).replace(f'"{f}": "', f'"{f}": "\\ud800', 1)
    else:
        return how, draw(st.sampled_from(['"a string"', "42", "null", "[]", "true", "{}", "[{}]"]))
    return how, e


@st.composite
def _raw(draw: st.DrawFn, kind: str, collector: bool) -> tuple[str, bytes]:
    """Bytes that are not a JSON event at all, or a valid event's bytes broken."""
    base = json.dumps(valid(kind, collector=collector)).encode()
    how = draw(
        st.sampled_from(["binary", "truncated", "invalid_utf8", "deep_nesting", "huge_array", "malformed"])
    )
    if how == "binary":
        return how, draw(st.binary(min_size=1, max_size=2000))
    if how == "truncated":
        return how, base[: draw(st.integers(1, len(base) - 1))]
    if how == "invalid_utf8":
        at = draw(st.integers(0, len(base) - 2))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
        )
        return how, base[:at] + junk + base[at:]
    if how == "deep_nesting":
        depth = draw(st.integers(100, 100_000))
        return how, b"[" * depth + b"]" * depth
    if how == "huge_array":
        return how, b"[" + b"1," * draw(st.integers(1000, 100_000)) + b"1]"
    return how, draw(st.sampled_from([b"{", b"{]", b"{'a': 1}", b'{"a":}', b"", b"   ", b"\x00", b"NaN"]))


def cases(n: int, *, collector: bool = False, seed: int | None = None) -> list[tuple[str, str, bytes]]:
    """``n`` hypothesis-generated cases: ``(event kind, mutation, body bytes)``."""
    out: list[tuple[str, str, bytes]] = []

    def one(kind: str, case: tuple[str, Any]) -> None:
        how, value = case
        if isinstance(value, bytes):
            body = value
        elif isinstance(value, str):
            body = value.encode("utf-8", "surrogatepass")
        else:
            body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        out.append((kind, how, body))

    kinds = st.sampled_from(TOPIC_KINDS)
    strategy = kinds.flatmap(lambda k: st.tuples(st.just(k), _mutated(k, collector) | _raw(k, collector)))
    run = settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=seed is not None,
    )(given(strategy)(lambda c: one(*c)))
    run()
    return out


def huge_cases(collector: bool = False) -> list[tuple[str, str, bytes]]:
    """Values of 10 MB: one per event kind (a field of 10 MB, and 10 MB of garbage)."""
    out = []
    for kind in TOPIC_KINDS:
        e = valid(kind, collector=collector)
        e[
            "padding" if kind == "network_metrics" else ("code" if kind == "code_submission" else "command")
        ] = "x" * (10 * 1024 * 1024)
        out.append((kind, "10MB_field", json.dumps(e).encode()))
        out.append((kind, "10MB_garbage", bytes(range(256)) * (10 * 1024 * 1024 // 256)))
    return out


def _at(seconds_from_now: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).isoformat().replace("+00:00", "Z")


def hostile_cases(tag: str) -> list[tuple[str, str, bytes, bytes | None, str]]:
    """Named hostile records for the Kafka topics, each with the fate it must meet.

    ``(kind, name, key, value, expected)``; ``expected`` is ``processed`` or ``dead:<stage>``. Keys
    are unique per run (``tag``), so the ordered cases (a session's commands) share a partition.
    Found by trying the topics as a new user would (issue 14): a duplicated ``exit``, a poison key,
    a number no device reports, a reading stamped years ahead.
    """
    out: list[tuple[str, str, bytes, bytes | None, str]] = []

    def command(session: str, seq: int, line: str, event_id: str | None = None) -> bytes:
        e = valid("lab_command") | {
            "session_id": session,
            "seq": seq,
            "command": line,
            "occurred_at": _at(-60),
        }
        if event_id:
            e["event_id"] = event_id
        return json.dumps(e).encode()

    exit_session = f"chaos-exit-{tag}"
    exit_id = str(uuid.uuid4())
    for seq, line in enumerate(["enable", "conf t", "interface gi0/1"]):
        out.append(
            (
                "lab_command",
                f"dup_exit:{seq}",
                exit_session.encode(),
                command(exit_session, seq, line),
                "processed",
            )
        )
    for copy in ("first", "again"):  # the same event (id and seq) twice: pops one mode
        out.append(
            (
                "lab_command",
                f"dup_exit:exit_{copy}",
                exit_session.encode(),
                command(exit_session, 3, "exit", exit_id),
                "processed",
            )
        )
    out.append(
        (
            "lab_command",
            "dup_exit:next",
            exit_session.encode(),
            command(exit_session, 4, "hostname r1"),
            "processed",
        )
    )

    late = f"chaos-late-{tag}"
    for seq, line in [
        (0, "enable"),
        (1, "conf t"),
        (2, "router ospf 1"),
        (4, "interface gi0/1"),
        (5, "shutdown"),
        (3, "exit"),
        (6, "no shutdown"),
    ]:
        out.append(("lab_command", f"late_seq:{seq}", late.encode(), command(late, seq, line), "processed"))

    def reading(**fields: Any) -> bytes:
        return json.dumps(
            valid("network_metrics") | {"device_id": f"chaos-hostile-{tag}", "occurred_at": _at(-60)} | fields
        ).encode()

    device = f"chaos-hostile-{tag}".encode()
    out += [
        (
            "network_metrics",
            "connection_count_10e400",
            device,
            reading(connection_count=10**400),
            "dead:validate",
        ),
        (
            "network_metrics",
            "connection_count_2e63",
            device,
            reading(connection_count=2**63),
            "dead:validate",
        ),
        (
            "network_metrics",
            "connection_count_at_bound",
            device,
            reading(connection_count=10**9),
            "processed",
        ),
        ("network_metrics", "latency_1e12_ms", device, reading(latency_ms=1e12), "dead:validate"),
        ("network_metrics", "error_rate_1e300", device, reading(error_rate=1e300), "dead:validate"),
        (
            "network_metrics",
            "occurred_5_years_ahead",
            device,
            reading(occurred_at=_at(5 * 365 * 86400)),
            "dead:validate",
        ),
        (
            "network_metrics",
            "occurred_in_1970",
            device,
            reading(occurred_at="1970-01-01T00:00:00Z"),
            "dead:validate",
        ),
        ("network_metrics", "occurred_30_s_ahead", device, reading(occurred_at=_at(30)), "processed"),
        ("network_metrics", "tombstone", device, None, "dead:decode"),
        (
            "lab_command",
            "poison_key_400KB_invalid_value",
            b"P" * (400 * 1024),
            b'{"event_type": "lab_command"}',
            "dead:validate",
        ),
        (
            "lab_command",
            "poison_key_900KB_invalid_value",
            b"Q" * (900 * 1024),
            b"\xff not json",
            "dead:decode",
        ),
        (
            "code_submission",
            "poison_key_400KB_valid_value",
            b"R" * (400 * 1024),
            json.dumps(valid("code_submission") | {"occurred_at": _at(-60)}).encode(),
            "processed",
        ),
    ]
    return out
