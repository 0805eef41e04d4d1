"""Privacy defects found by bench.chaos.security, each fixed in the collector (issue 6)."""

from __future__ import annotations

import pytest

from producers import Collector, InvalidEventError, validate_event
from producers.collector import _without_id

SECRET_TAG = "Pl4ntedS3cret9d1e"


def test_an_unknown_event_type_is_not_echoed_in_the_error() -> None:
    with pytest.raises(InvalidEventError) as e:
        validate_event({"event_type": SECRET_TAG, "student_id": "s-1"})
    assert SECRET_TAG not in str(e.value.errors)
    assert any("event_type must be one of" in err["message"] for err in e.value.errors)


def test_the_submitters_own_id_is_removed_from_code_and_commands(settings_factory) -> None:
    settings = settings_factory(create=False, bootstrap_servers="127.0.0.1:1")
    with Collector(settings) as c:
        code = validate_event(
            {
                "event_type": "code_submission",
                "student_id": "s1234567",
                "exercise_id": "ex-1",
                "code": "# Author: s1234567\nprint('s1234567')\n",
            }
        )
        _, _, value = c.encode(code)
        cmd = validate_event(
            {
                "event_type": "lab_command",
                "student_id": "s1234567",
                "session_id": "lab-1",
                "seq": 0,
                "device_type": "cisco_ios",
                "command": "hostname r1-s1234567",
            }
        )
        _, _, cmd_value = c.encode(cmd)
    assert b"s1234567" not in value and b"s1234567" not in cmd_value
    assert b"# Author: <redacted:student_id>" in value


def test_short_ids_are_left_alone() -> None:
    assert _without_id("x = 1", "1") == "x = 1"
