"""Interface-name expansion the way each platform prints names: ``gi0/1`` -> ``GigabitEthernet0/1``."""

from __future__ import annotations

import re
from functools import partial

from stream_processors.commands.tree import IfExpander

# Letters, then a number made of digits / . : and NX-OS/EOS ranges (, -); no nested quantifiers.
_IF_RE = re.compile(r"([A-Za-z][A-Za-z-]*)(\d[\d/.:,-]*)\Z")

_TYPES: dict[str, tuple[str, ...]] = {
    "ios": (
        "GigabitEthernet",
        "FastEthernet",
        "TenGigabitEthernet",
        "TwentyFiveGigE",
        "FortyGigabitEthernet",
        "HundredGigE",
        "Ethernet",
        "Loopback",
        "Vlan",
        "Port-channel",
        "Tunnel",
        "Serial",
        "Null",
        "Dialer",
        "Virtual-Template",
        "BDI",
        "Async",
        "Multilink",
    ),
    "nxos": ("Ethernet", "loopback", "port-channel", "Vlan", "mgmt", "Tunnel", "nve"),
    "eos": ("Ethernet", "Loopback", "Port-Channel", "Vlan", "Management", "Tunnel", "Vxlan"),
}
# Short forms the devices accept although another type shares the prefix.
_ALIASES: dict[str, dict[str, str]] = {
    "ios": {
        "g": "GigabitEthernet",
        "f": "FastEthernet",
        "e": "Ethernet",
        "eth": "Ethernet",
        "s": "Serial",
        "gig": "GigabitEthernet",
        "po": "Port-channel",
        "te": "TenGigabitEthernet",
        "v": "Vlan",
    },
    "nxos": {"eth": "Ethernet", "lo": "loopback", "po": "port-channel", "mgmt": "mgmt"},
    "eos": {
        "et": "Ethernet",
        "eth": "Ethernet",
        "ma": "Management",
        "mgmt": "Management",
        "po": "Port-Channel",
    },
}


def _table(platform: str) -> dict[str, str | None]:
    table: dict[str, str | None] = {}
    names = _TYPES[platform]
    for name in names:
        low = name.lower()
        for i in range(1, len(low) + 1):
            table[low[:i]] = name if table.get(low[:i], name) == name else None
    for name in names:
        table[name.lower()] = name
    table.update(_ALIASES[platform])
    return table


def _expand(table: dict[str, str | None], token: str) -> str:
    match = _IF_RE.match(token)
    if match is None:
        return token
    full = table.get(match.group(1).lower())
    return token if full is None else full + match.group(2)


EXPANDERS: dict[str, IfExpander] = {p: partial(_expand, _table(p)) for p in _TYPES}


def expander(platform: str) -> IfExpander:
    """The interface-name expander of ``platform`` (``ios``, ``nxos`` or ``eos``)."""
    return EXPANDERS[platform]
