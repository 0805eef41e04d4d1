"""Unit tests of interpret()/normalize(): abbreviations, ambiguity, pipes, help, modes, state handling."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from stream_processors.commands import InterpretResult, interpret, normalize

PRIV = {"modes": [], "priv": 15}
CONFIG = {"modes": ["config"], "priv": 15}


def replay(device_type: str, commands: list[str], state: dict | None = None) -> list[InterpretResult]:
    results = []
    for command in commands:
        result = interpret(state, device_type, command)
        results.append(result)
        state = result.state
    return results


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("sh ip int br", "show ip interface brief"),
        ("conf t", "configure terminal"),
        ("int gi0/1", "interface GigabitEthernet0/1"),
        ("no shut", "no shutdown"),
        ("wr mem", "write memory"),
        ("copy run start", "copy running-config startup-config"),
        ("SH RUN", "show running-config"),
        ("int Gig0/1", "interface GigabitEthernet0/1"),
        ("int g0/1", "interface GigabitEthernet0/1"),
        ("int fa0/24", "interface FastEthernet0/24"),
        ("int te1/0/1", "interface TenGigabitEthernet1/0/1"),
        ("int po1", "interface Port-channel1"),
        ("int tu0", "interface Tunnel0"),
        ("int vl99", "interface Vlan99"),
        ("int GigabitEthernet0/0", "interface GigabitEthernet0/0"),
        ("net 10.0.0.0 0.0.0.255 area 0", "network 10.0.0.0 0.0.0.255 area 0"),
        ("sh run | i ospf", "show running-config | include ospf"),
    ],
)
def test_ios_normalize(command: str, expected: str) -> None:
    assert normalize(command, "cisco_ios") == expected


@pytest.mark.parametrize(
    ("device_type", "command", "expected"),
    [
        ("cisco_nxos", "int e1/1", "interface Ethernet1/1"),
        ("cisco_nxos", "int eth1/1", "interface Ethernet1/1"),
        ("cisco_nxos", "int lo0", "interface loopback0"),
        ("cisco_nxos", "int po10", "interface port-channel10"),
        ("cisco_nxos", "int mgmt0", "interface mgmt0"),
        ("cisco_nxos", "feature interface-vlan", "feature interface-vlan"),
        ("arista_eos", "int et1", "interface Ethernet1"),
        ("arista_eos", "int ma1", "interface Management1"),
        ("arista_eos", "int po1", "interface Port-Channel1"),
        ("juniper_junos", "sh int terse", "show interfaces terse"),
        ("juniper_junos", "sh route | m 10.0", "show route | match 10.0"),
        ("linux", "  ip   a  ", "ip a"),
    ],
)
def test_platform_normalize(device_type: str, command: str, expected: str) -> None:
    assert normalize(command, device_type) == expected


def test_arguments_are_never_rewritten() -> None:
    assert interpret(CONFIG, "cisco_ios", "hostname sh").normalized == "hostname sh"
    assert interpret(CONFIG, "cisco_ios", "ip route 0.0.0.0 0.0.0.0 gi0/1").normalized.endswith("gi0/1")
    result = interpret({"modes": ["config", "config-if"], "priv": 15}, "cisco_ios", "desc conf t int br")
    assert result.normalized == "description conf t int br"


def test_ambiguous_prefix_is_left_as_typed() -> None:
    assert interpret(None, "cisco_ios", "s").normalized == "s"
    co = interpret(PRIV, "cisco_ios", "co")  # configure / copy / connect
    assert (co.normalized, co.category, co.state) == ("co", "other", PRIV)
    assert (
        interpret(PRIV, "cisco_ios", "sh r").normalized == "show r"
    )  # redundancy, route-map, running-config
    assert (
        normalize("int t0/1", "cisco_ios") == "interface t0/1"
    )  # TenGigabitEthernet, TwentyFiveGigE, Tunnel


def test_unknown_words_stay_and_are_other_in_exec() -> None:
    result = interpret(None, "cisco_ios", "frobnicate the router")
    assert (result.normalized, result.category, result.mode) == ("frobnicate the router", "other", "exec")
    assert interpret(None, "juniper_junos", "frobnicate").category == "other"


def test_unknown_words_inside_a_routing_context_are_routing() -> None:
    state = {"modes": ["config", "config-router:ospf"], "priv": 15}
    assert interpret(state, "arista_eos", "max-lsa 12000").category == "routing"


@pytest.mark.parametrize("device_type", ["cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "linux"])
@pytest.mark.parametrize("command", ["", "   ", "\t\n", "\u00a0\u2003"])
def test_blank_line(device_type: str, command: str) -> None:
    result = interpret(PRIV, device_type, command)
    assert result.normalized == ""
    assert result.category == "other"


def test_help_keeps_the_mode_and_is_other() -> None:
    state = {"modes": ["config", "config-router:bgp"], "priv": 15}
    for command, normalized in [
        ("?", "?"),
        ("nei ?", "neighbor ?"),
        ("neighbor 1.1.1.1 rem?", "neighbor 1.1.1.1 rem?"),
    ]:
        result = interpret(state, "cisco_ios", command)
        assert (result.normalized, result.category, result.mode) == (normalized, "other", "config-router")
        assert result.state == state
    assert interpret(None, "juniper_junos", "show route ?").normalized == "show route ?"


def test_pipes_keep_the_pattern_and_take_the_category_of_the_left_part() -> None:
    result = interpret(PRIV, "cisco_ios", "sh run | sec router ospf")
    assert (result.normalized, result.category) == ("show running-config | section router ospf", "show")
    assert interpret(PRIV, "cisco_ios", "sh ip int br | e unas|down").normalized == (
        "show ip interface brief | exclude unas|down"  # IOS: everything after the first pipe is one regex
    )
    nxos = interpret(PRIV, "cisco_nxos", "sh int br | inc Eth | ex down")
    assert nxos.normalized == "show interface brief | include Eth | exclude down"
    junos = interpret(None, "juniper_junos", 'show configuration | display set | match "ge-0/0/0|lo0"')
    assert junos.normalized == 'show configuration | display set | match "ge-0/0/0|lo0"'
    assert interpret(PRIV, "cisco_ios", "| i foo").category == "other"


def test_do_runs_exec_commands_without_changing_mode() -> None:
    state = {"modes": ["config", "config-if"], "priv": 15}
    for command, normalized, category in [
        ("do sh ip int br", "do show ip interface brief", "show"),
        ("do ping 10.0.0.1", "do ping 10.0.0.1", "debug"),
        ("do wr", "do write", "other"),
        ("do", "do", "other"),
    ]:
        result = interpret(state, "cisco_ios", command)
        assert (result.normalized, result.category, result.mode, result.state) == (
            normalized,
            category,
            "config-if",
            state,
        )


def test_no_is_categorised_by_what_it_negates_and_never_enters_a_mode() -> None:
    for command, category in [
        ("no router ospf 1", "routing"),
        ("no ip route 0.0.0.0 0.0.0.0 1.1.1.1", "routing"),
        ("no int lo1", "config"),
        ("no vlan 10", "config"),
        ("no debug all", "debug"),
    ]:
        result = interpret(CONFIG, "cisco_ios", command)
        assert (result.category, result.state) == (category, CONFIG), command
    in_if = interpret({"modes": ["config", "config-if"], "priv": 15}, "cisco_ios", "no sh")
    assert (in_if.normalized, in_if.category) == ("no shutdown", "config")


def test_exit_end_and_ctrl_z() -> None:
    results = replay(
        "cisco_ios", ["en", "conf t", "router ospf 1", "exit", "int gi0/0", "exit", "exit", "exit"]
    )
    assert [r.mode for r in results] == [
        "exec",
        "privileged",
        "config",
        "config-router",
        "config",
        "config-if",
        "config",
        "privileged",
    ]
    assert results[-1].state == {"modes": [], "priv": 1}  # exit from privileged EXEC logs out
    for leave in ("end", "^Z", "\x1a"):
        result = interpret(
            {"modes": ["config", "config-router:bgp", "config-router-af"], "priv": 15}, "cisco_ios", leave
        )
        assert (result.normalized, result.category, result.mode, result.state) == (
            "end",
            "other",
            "config-router-af",
            PRIV,
        )


def test_enable_disable_and_privilege() -> None:
    results = replay("cisco_ios", ["sh ver", "enable", "disable", "enable 7"])
    assert [r.mode for r in results] == ["exec", "exec", "privileged", "exec"]
    assert results[-1].state == {"modes": [], "priv": 7}
    assert interpret(None, "cisco_nxos", "sh ver").mode == "privileged"  # NX-OS logs in at "#"


def test_global_command_in_a_submode_moves_up_like_ios() -> None:
    router = {"modes": ["config", "config-router:ospf"], "priv": 15}
    moved = interpret(router, "cisco_ios", "int gi0/2")
    assert (moved.mode, moved.category, moved.state["modes"]) == (
        "config-router",
        "config",
        ["config", "config-if"],
    )
    host = interpret({"modes": ["config", "config-if"], "priv": 15}, "cisco_ios", "hostname R1")
    assert (host.mode, host.category, host.state["modes"]) == ("config-if", "config", ["config"])
    af = {"modes": ["config", "config-router:bgp", "config-router-af"], "priv": 15}
    up = interpret(af, "cisco_ios", "neighbor 1.1.1.1 remote-as 65002")
    assert (up.category, up.state["modes"]) == ("routing", ["config", "config-router:bgp"])


def test_subinterfaces_and_routing_inside_interfaces() -> None:
    subif = interpret(CONFIG, "cisco_ios", "int gi0/0.10")
    assert subif.state["modes"] == ["config", "config-subif"]
    ospf_if = interpret(subif.state, "cisco_ios", "ip ospf 1 area 0")
    assert (ospf_if.category, ospf_if.mode) == ("routing", "config-subif")


def test_junos_edit_path_up_top_exit() -> None:
    results = replay(
        "juniper_junos",
        [
            "configure",
            "edit interfaces ge-0/0/0 unit 0",
            "set family inet address 10.0.0.1/24",
            "up",
            "up",
            "top",
            "edit protocols",
            "edit ospf",
            "exit",
            "exit",
            "exit",
        ],
    )
    assert [r.mode for r in results] == [
        "operational",
        "configuration",
        "configuration [edit interfaces ge-0/0/0 unit 0]",
        "configuration [edit interfaces ge-0/0/0 unit 0]",
        "configuration [edit interfaces ge-0/0/0]",
        "configuration [edit interfaces]",
        "configuration",
        "configuration [edit protocols]",
        "configuration [edit protocols ospf]",
        "configuration [edit protocols]",
        "configuration",
    ]
    assert results[-1].state["modes"] == []
    assert [r.category for r in results[6:8]] == ["routing", "routing"]
    assert results[2].category == "config"


def test_junos_operational_set_is_not_configuration() -> None:
    assert interpret(None, "juniper_junos", "set cli screen-length 0").category == "other"
    cfg = {"modes": ["configuration"], "priv": 15}
    assert interpret(cfg, "juniper_junos", "set vlans V10 vlan-id 10").category == "config"
    assert (
        interpret(cfg, "juniper_junos", "set routing-instances RED protocols ospf area 0").category
        == "routing"
    )
    assert interpret(cfg, "juniper_junos", "rollback 1").category == "config"


def test_state_is_never_mutated_and_survives_json() -> None:
    state = {"modes": ["config", "config-router:ospf"], "priv": 15}
    before = copy.deepcopy(state)
    result = interpret(state, "cisco_ios", "int gi0/1")
    assert state == before
    assert result.state is not state
    assert json.loads(json.dumps(result.state)) == result.state
    again = interpret(json.loads(json.dumps(result.state)), "cisco_ios", "no shut")
    assert again.mode == "config-if"
    result.state["modes"].append("config-line")  # the caller's copy is theirs: the next result is unaffected
    assert interpret(state, "cisco_ios", "int gi0/1").state["modes"] == ["config", "config-if"]


@pytest.mark.parametrize(
    "state",
    [
        42,
        "config",
        [],
        {"modes": "config"},
        {"modes": ["nope"]},
        {"modes": ["config"], "priv": "15"},
        {"modes": ["config"], "priv": 99},
        {"modes": [["config"]]},
        {"modes": ["config"] * 50},
    ],
)
def test_malformed_state_starts_a_new_session(state: object) -> None:
    result = interpret(state, "cisco_ios", "sh ip route")  # type: ignore[arg-type]
    assert (result.category, result.mode) == ("show", "exec")


def test_result_is_a_frozen_slotted_dataclass() -> None:
    result = interpret(None, "cisco_ios", "sh ver")
    assert dataclasses.is_dataclass(result)
    assert not hasattr(result, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.category = "other"  # type: ignore[misc]


def test_unknown_device_type_is_read_as_ios() -> None:
    assert interpret(None, "cisco_xr", "sh ip int br").normalized == "show ip interface brief"


def test_non_str_command_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        interpret(None, "cisco_ios", None)  # type: ignore[arg-type]
