"""Secret scrubbing: planted secrets vanish, the rest of the text stays and still compiles."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from producers import CollectorMetrics, Scrubber
from tests.producers.scrub_corpus import code_cases, command_cases

CLEAN_COMMANDS = {
    "cisco_ios": [
        "show running-config | include password",
        "key chain OSPF",
        "key 1",
        "service password-encryption",
        "username student nopassword",
        "crypto key generate rsa modulus 2048",
        "do show ip int br",
    ],
    "linux": ["ssh -p 2222 admin@r1", "mkdir -p /tmp/x", "passwd student", "curl -u admin https://r1/"],
    "juniper_junos": [
        "set protocols ospf area 0 interface ge-0/0/0",
        "set system ntp authentication-key 1 type md5",
    ],
    "arista_eos": ["username admin privilege 15 role network-admin nopassword"],
    "cisco_nxos": ["feature password encryption aes", "show snmp community"],
}


@pytest.mark.parametrize("case", command_cases(1), ids=lambda c: c.kind)
def test_command_secrets_replaced_words_kept(case) -> None:
    out = Scrubber().command(case.kind, case.text)
    assert not [s for s in case.secrets if s in out]
    assert [w for w in case.words if w not in out] == []
    assert ("<redacted:" in out) == bool(case.secrets)


@pytest.mark.parametrize("case", code_cases(), ids=lambda c: c.kind)
def test_code_secrets_replaced_code_still_compiles(case) -> None:
    out = Scrubber().code(case.kind, case.text)
    assert not [s for s in case.secrets if s in out]
    assert [w for w in case.words if w not in out] == []
    if case.kind == "python":
        compile(out, "<scrubbed>", "exec")


@pytest.mark.parametrize(("device", "line"), [(d, c) for d, cs in CLEAN_COMMANDS.items() for c in cs])
def test_commands_without_secrets_are_untouched(device: str, line: str) -> None:
    assert Scrubber().command(device, line) == line


def test_code_without_secrets_is_untouched() -> None:
    code = "password = getpass.getpass()\nfor key in d.keys():\n    y = x @ w\npwd = os.getcwd()\n"
    assert Scrubber().code("python", code) == code
    yaml = 'password: "{{ vault_pw }}"\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1\n'
    assert Scrubber().code("yaml", yaml) == yaml


def test_counts_per_kind_in_the_metric() -> None:
    metrics = CollectorMetrics(CollectorRegistry())
    s = Scrubber(lambda kind: metrics.scrubbed.labels(kind=kind).inc())
    s.command("cisco_ios", "enable secret hunter2")
    s.command("cisco_ios", "snmp-server user u g v3 auth sha aaaaaaaa priv aes 128 bbbbbbbb")
    get = metrics.registry.get_sample_value
    assert get("labstream_scrubbed_secrets_total", {"kind": "enable_secret"}) == 1
    assert get("labstream_scrubbed_secrets_total", {"kind": "snmp_auth_key"}) == 1
    assert get("labstream_scrubbed_secrets_total", {"kind": "snmp_priv_key"}) == 1
