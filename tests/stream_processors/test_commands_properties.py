"""Property tests: interpret() never raises, stays fast on long lines, and its state round-trips as JSON."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_processors.commands import DEVICE_TYPES, interpret, normalize

CATEGORIES = {"show", "debug", "routing", "config", "other"}
# Words real sessions are made of, so generated lines also reach deep into the vocabularies.
WORDS = (
    "sh show run ip int br interface gi0/1 e1/1 et1 lo0 conf t configure terminal router ospf bgp 1 65000 "
    "network area 0 neighbor remote-as address-family ipv4 exit end do no default shut | i include ? "
    "set delete edit top up run commit protocols routing-options interfaces ge-0/0/0 unit family inet "
    "sudo ip route add link addr ping traceroute debug undebug all enable disable vlan 10 line vty 4 "
    "access-list permit deny any ^Z ! # \" ' -c vtysh watch netns exec feature management api daemon"
).split()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
STATES = (
    st.none()
    | JSON
    | st.fixed_dictionaries(
        {
            "modes": st.lists(
                st.sampled_from(
                    [
                        "config",
                        "config-if",
                        "config-router:ospf",
                        "configuration",
                        "protocols ospf",
                        "config-router-af",
                    ]
                ),
                max_size=4,
            ),
            "priv": st.integers(-2, 20),
        }
    )
)
LINES = (
    st.text(max_size=4096)
    | st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)
    | st.text(alphabet=" \t|?!-/.:0123456789abcdefgiklmnoprstuvwxyzGIE\u00a0\u2028\x1a", max_size=400)
)


def _check(state: object, device_type: str, line: str) -> dict:
    result = interpret(state, device_type, line)  # type: ignore[arg-type]
    assert result.category in CATEGORIES
    assert isinstance(result.normalized, str) and isinstance(result.mode, str) and result.mode
    assert json.loads(json.dumps(result.state)) == result.state
    assert isinstance(normalize(line, device_type), str)
    return result.state


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=STATES, device_type=st.sampled_from(DEVICE_TYPES), line=LINES)
def test_interpret_never_raises(state: object, device_type: str, line: str) -> None:
    _check(state, device_type, line)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(device_type=st.sampled_from(DEVICE_TYPES), lines=st.lists(LINES, max_size=25))
def test_sessions_never_raise_and_state_stays_small(device_type: str, lines: list[str]) -> None:
    state: dict | None = None
    for line in lines:
        state = _check(state, device_type, line)
        assert len(state["modes"]) <= 8
        assert set(state) == {"modes", "priv"}


# long lines built to trip a backtracking pattern; their timing is bench/limits.py's (make bench)
PATHOLOGICAL_LINES = [
    "top " * 1000,
    "watch -n1 " * 400,
    "ip netns exec a " * 250,
    "|" * 4096,
    "?" * 4096,
    "a" * 4096,
    "sh " * 1365,
    "ping 1.1.1.1 repeat 5 " * 180,
    "int gi0/" + "1" * 4000,
    "no " * 1365,
    "edit a " * 600,
    "do " * 1365,
    "1" * 4096 + "?",
    "gi " * 1365,
]


def test_pathological_long_lines_are_interpreted() -> None:
    for line in PATHOLOGICAL_LINES:
        for device_type in DEVICE_TYPES:
            _check({"modes": ["configuration"], "priv": 15}, device_type, line)
            _check({"modes": ["config", "config-if"], "priv": 15}, device_type, line)
