"""Linux shell lines: kept as typed, categorised by their effect on the network."""

from __future__ import annotations

import pytest

from stream_processors.commands import interpret


@pytest.mark.parametrize(
    ("command", "category"),
    [
        ("ip addr show", "show"),
        ("ip -6 route", "show"),
        ("ip r a 10.0.0.0/8 via 192.168.1.1", "routing"),
        ("sudo ip route del default", "routing"),
        ("ip rule add from 10.0.0.0/24 table 100", "routing"),
        ("ip link set dev eth0 mtu 9000", "config"),
        ("ip neigh flush all", "config"),
        ("sudo -E ip addr add 10.0.0.1/24 dev eth0", "config"),
        ("sudo -u root tcpdump -ni any port 179", "debug"),
        ("/usr/bin/ping 8.8.8.8", "debug"),
        ("watch -n1 ip route", "show"),
        ("sudo sysctl net.ipv4.ip_forward", "show"),
        ("sysctl -w net.ipv6.conf.all.forwarding=1", "routing"),
        ("sudo sysctl -w net.core.rmem_max=26214400", "config"),
        ("echo 1 > /proc/sys/net/ipv4/ip_forward", "routing"),
        ("nmcli connection up eth1", "config"),
        ("nmcli con show", "show"),
        ("sudo ufw allow 22/tcp", "config"),
        ("sudo iptables -L -n", "show"),
        ("hostnamectl set-hostname web1", "config"),
        ("hostname", "show"),
        ("systemctl status frr", "show"),
        ("ssh admin@10.0.0.1", "other"),
        ("vtysh -c 'conf t' -c 'router ospf' -c 'network 10.0.0.0/24 area 0'", "routing"),
        ("vtysh", "other"),
        ("sudo", "other"),
        ("ip", "other"),
        ("ip bogus", "other"),
    ],
)
def test_linux_categories(command: str, category: str) -> None:
    result = interpret(None, "linux", command)
    assert (result.category, result.mode) == (category, "shell")
    assert result.normalized == " ".join(command.split())
