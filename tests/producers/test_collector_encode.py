"""The collector's hot path gives what the straightforward code gave: topic bytes, scrubbed text, counts.

The publish path was made faster (bench.collector): JSON written without building a topic model,
scrub rules applied with ``finditer`` instead of ``re.sub``, possessive and unrolled regexes, a memo
of command lines without secrets. Each is checked here against the plain version.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from datetime import UTC, datetime

import pytest

from producers import Collector, Scrubber, validate_event
from producers.collector import _event_id, _topic_value
from producers.scrub import code_rules, command_rules, engine, positional
from schemas import CodeSubmission, LabCommand, NetworkMetricsIn
from tests.producers.scrub_corpus import code_cases, command_cases

_TEXTS = [
    "show ip interface brief",
    'banner motd "caf\u00e9 \U0001f600 \\ \\" \t end"',
    "x\x00y\x1f\u2028\u2029 </script> \u212a\u017f",
    "",
    "a" * 4096,
]


def _lab(command: str, seq: int = 0) -> dict:
    return {
        "event_type": "lab_command",
        "student_id": "student-1",
        "session_id": "lab-7",
        "seq": seq,
        "device_type": "cisco_ios",
        "command": command,
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC).isoformat(),
    }


@pytest.mark.parametrize("text", _TEXTS)
def test_topic_json_is_the_topic_models_json(text: str) -> None:
    for cls, data in (
        (LabCommand, _lab(text, seq=2**53)),
        (
            CodeSubmission,
            {"event_type": "code_submission", "student_id": "s-1", "exercise_id": "ex-1", "code": text},
        ),
    ):
        event = validate_event(data)
        fields = event.__dict__.copy()
        fields.pop("student_id")
        fields["anonymous_id"] = "k1-0123456789abcdef0123456789abcdef"
        value = _topic_value(fields)
        assert value == cls.model_validate(fields).model_dump_json().encode()
        assert cls.model_validate_json(value).model_dump() == cls.model_validate(fields).model_dump()
        assert _event_id(value, event) == str(event.event_id)


def test_network_metrics_json_and_event_id() -> None:
    event = validate_event(
        {
            "event_type": "network_metrics",
            "device_id": "r1",
            "packet_loss": 0.1,
            "latency_ms": 3.6e6,  # the largest latency allowed (one hour)
            "bandwidth_utilization": 0.0,
            "connection_count": 7,
            "error_rate": 1 / 3,
        }
    )
    assert isinstance(event, NetworkMetricsIn)
    value = NetworkMetricsIn.__pydantic_serializer__.to_json(event)
    assert value == event.to_bytes()
    assert _event_id(value, event) == str(event.event_id)
    assert _event_id(b'{"source":"x"}', event) == str(event.event_id)  # not first: formatted instead


def test_encode_and_submit_give_the_ids_and_bytes_of_the_plain_path(settings_factory) -> None:
    settings = settings_factory(create=False, bootstrap_servers="127.0.0.1:1")
    with Collector(settings, spool_fsync="never") as c:
        for data in (_lab("enable secret hunter2"), _lab("show version")):
            event = validate_event(data)
            topic, key, value = c.encode(event)
            fields = event.__dict__.copy()
            fields["anonymous_id"] = c.pseudonymizer.pseudonym(fields.pop("student_id"))
            fields["command"] = Scrubber().command("cisco_ios", event.command)
            assert (topic, key) == (settings.topics.lab_events, b"lab-7")
            assert value == LabCommand.model_validate(fields).model_dump_json().encode()
            assert b"hunter2" not in value
            assert c.submit(event) == str(event.event_id)  # Kafka away here: to the spool


# --- scrubbing: the fast engine against re.sub with a replacement function ------------------------


def _reference_apply(rules: command_rules.RuleSet, text: str, counts: list[str]) -> str:
    low = text.lower()
    for kind, pattern, words in rules.rules:
        if words is not None and not any(w in low for w in words):
            continue
        mark = command_rules.marker(kind)

        def repl(m: re.Match[str], kind: str = kind, mark: str = mark) -> str:
            if "n" in m.re.groupindex and code_rules.SENSITIVE_NAME.search(m.group("n")) is None:
                return m.group(0)
            value = m.group("v")
            quote = value[0] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else ""
            inner = value[1:-1] if quote else value
            if not inner or inner.startswith(("<redacted:", "{{", "{%")):
                return m.group(0)
            counts.append(kind)
            start, end = m.span("v")
            return m.group(0)[: start - m.start()] + quote + mark + quote + m.group(0)[end - m.start() :]

        text = pattern.sub(repl, text)
    return text


_PLAIN_LITERAL = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")


def _reference_code(language: str, code: str, counts: list[str]) -> str:
    low = code.lower()
    out = _reference_rules(language, code, counts) if any(w in low for w in code_rules.TRIGGER) else code
    if language == "python":  # positional credentials: one implementation, tested in test_scrub.py
        out = positional.scrub_positional(out, low, counts)
    return out


def _reference_rules(language: str, code: str, counts: list[str]) -> str:
    out = _reference_apply(code_rules.RULES.get(language, code_rules.RULES["text"]), code, counts)
    if language != "python":
        return _reference_apply(code_rules.IN_STRING_RULES, out, counts)

    def in_string(m: re.Match[str]) -> str:
        lit = m.group(0)
        if not any(w in lit.lower() for w in code_rules.IN_STRING_TRIGGER):
            return lit
        return _reference_apply(code_rules.IN_STRING_RULES, lit, counts)

    return _PLAIN_LITERAL.sub(in_string, out)


def _mutations(text: str, rng: random.Random, n: int) -> list[str]:
    alphabet = string.printable + "\"'\\=:{}<>$@ \u0130\u212a\u017f\u03a3"
    out = []
    for _ in range(n):
        t = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(t) + 1)
            if rng.random() < 0.4 and t:
                del t[min(i, len(t) - 1)]
            else:
                t.insert(i, rng.choice(alphabet))
        out.append("".join(t))
    return out


def test_scrubbing_equals_the_plain_re_sub_version() -> None:
    rng = random.Random(20261121)
    seen = 0
    for case in command_cases(1):
        for text in [case.text, *_mutations(case.text, rng, 8)]:
            for device, (trigger, rules) in command_rules.RULES.items():
                expected: list[str] = []
                want = text
                if any(w in text.lower() for w in trigger):
                    want = _reference_apply(rules, text, expected)
                got: list[str] = []
                s = Scrubber(got.append)
                assert s.command(device, text) == want
                assert s.command(device, text) == want  # a clean line: from the memo now
                assert got == expected * 2
                seen += 1
    for case in code_cases():
        for text in [case.text, *_mutations(case.text, rng, 20)]:
            for language in ("python", "yaml", "jinja2", "text"):
                expected = []
                got = []
                assert Scrubber(got.append).code(language, text) == _reference_code(language, text, expected)
                assert got == expected
                seen += 1
    assert seen > 2000


def test_unrolled_literal_regex_finds_the_same_literals() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice("ab \"'\\\n=") for _ in range(rng.randint(0, 40)))
        plain = [m.span() for m in _PLAIN_LITERAL.finditer(text)]
        assert [m.span() for m in code_rules.STRING_LITERAL.finditer(text)] == plain


def test_sensitive_name_prefilter_agrees_with_the_regex() -> None:
    names = ["password", "db_PASSWD", "paſſword", "\u212aey", "api_key", "device_type", "host", "pass_", "x"]
    for name in names + [n.upper() for n in names]:
        assert code_rules.is_sensitive_name(name) == (code_rules.SENSITIVE_NAME.search(name) is not None)


# --- the memo of clean command lines --------------------------------------------------------------


def test_memo_keeps_only_clean_lines_and_is_bounded() -> None:
    s = Scrubber()
    assert s.command("cisco_ios", "enable secret hunter2") == "enable secret <redacted:enable_secret>"
    assert s.command("cisco_ios", "show running-config | include password") == (
        "show running-config | include password"
    )
    s.command("cisco_ios", "show version")
    s.command("linux", "ssh s1234567@r1", remember=False)
    s.command("cisco_ios", "x" * 1000)
    memo = s._clean
    assert all("hunter2" not in line for lines in memo.values() for line in lines)
    assert set(memo["cisco_ios"]) == {"show running-config | include password", "show version"}
    assert memo["linux"] == {}
    for i in range(engine._CLEAN_LINES + 10):
        s.command("juniper_junos", f"show route {i}")
    assert 0 < len(memo["juniper_junos"]) <= engine._CLEAN_LINES


def test_a_line_with_the_submitters_id_is_not_remembered(settings_factory) -> None:
    settings = settings_factory(create=False, bootstrap_servers="127.0.0.1:1")
    with Collector(settings, spool_fsync="never") as c:
        event = validate_event({**_lab("hostname r1-s1234567"), "student_id": "s1234567"})
        _, _, value = c.encode(event)
        assert b"s1234567" not in value
        assert all("s1234567" not in line for lines in c.scrubber._clean.values() for line in lines)
        c.encode(validate_event(_lab("show clock")))
        assert "show clock" in c.scrubber._clean["cisco_ios"]
