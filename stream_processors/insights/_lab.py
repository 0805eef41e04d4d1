"""Per lab device type: the most used commands and the share the platform's CLI does not know.

A command is *unknown* when its first word is no keyword, nor a prefix of one, in any mode of the
platform's vocabulary (every EXEC and configuration tree of IOS/NX-OS/EOS; Junos operational and
configuration): ``shw ip route``, ``ipconfig``, a pasted Linux command on a router. Ambiguous
prefixes (``s``) are known words. Linux has no vocabulary here, so its share is null.
Commands are counted by pattern: the normalised command with numbers and addresses as ``<n>``
(``interface GigabitEthernet<n>/<n>``), so one lab's many addresses group.

State per device type, as for exercises (:mod:`stream_processors.insights._windows`): the last 48
hour and 14 day windows, the last applied offset and the last 512 event ids (redelivery is a
no-op), at most 200 command patterns a window.

>>> unknown("cisco_ios", "shw ip route"), unknown("cisco_ios", "sh ip route"), unknown("linux", "ls")
(True, False, None)
>>> pattern("ip address 10.0.12.1 255.255.255.0")
'ip address <n> <n>'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from stream_processors.commands import cisco, junos
from stream_processors.commands.tree import Node
from stream_processors.insights._windows import WINDOWS, Adder, Fact, WindowedState, _bump, _top

_ALWAYS = frozenset({"end", "exit", "do", "no", "default", "quit", "^z", "?"})
_CISCO = {"cisco_ios": "ios", "cisco_nxos": "nxos", "arista_eos": "eos"}
_ADDRESS = re.compile(
    r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?"  # IPv4, with a prefix length
    r"|(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?:/\d{1,3})?"  # IPv6
    r"|(?<![a-z])\d+"  # not after a lowercase letter: keywords keep theirs (ipv6, ospfv3)
)
_MAX_PATTERN = 120


def _trees(device_type: str) -> list[Node] | None:
    if device_type == "juniper_junos":
        return [junos.OPERATIONAL_TREE, junos.CONFIGURATION_TREE]
    name = _CISCO.get(device_type)
    if name is None:
        return None
    v = cisco.VOCABULARIES[name]
    return [v.exec, *v.modes.values()]


_TREES = {d: _trees(d) for d in ("cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "linux")}


def unknown(device_type: str, command: str) -> bool | None:
    """Whether the platform's CLI knows no command starting with this first word (None: not judged)."""
    trees = _TREES.get(device_type)
    words = command.split()
    if trees is None or not words:
        return None
    first = words[0].lower()
    return first not in _ALWAYS and not any(first in tree.index for tree in trees)


def pattern(command: str) -> str:
    """The normalised command with numbers, addresses and interface numbers as ``<n>``."""
    return _ADDRESS.sub("<n>", " ".join(command.split()))[:_MAX_PATTERN]


class LabWindows(WindowedState):
    """One lab device type's windows; agg ``n`` (commands), ``k`` (commands judged), ``u``
    (unknown), ``cmd`` (pattern counts)."""

    def _new_agg(self) -> dict[str, Any]:
        return {"n": 0, "k": 0, "u": 0, "cmd": {}}

    def _adder(self) -> Adder:
        return self._add

    @staticmethod
    def _add(agg: dict[str, Any], f: Fact, window: tuple[str, str]) -> None:
        agg["n"] += 1
        if f["unk"] is not None:
            agg["k"] += 1
            agg["u"] += bool(f["unk"])
        if f["c"]:
            _bump(agg["cmd"], [f["c"]])

    def _copy_agg(self, agg: dict[str, Any]) -> dict[str, Any]:
        return {**agg, "cmd": dict(agg["cmd"])}

    @staticmethod
    def insight(state: dict[str, Any], device_type: str, kind: str, start: float) -> dict[str, Any]:
        """The ``lab-insights`` value of one window (see :class:`schemas.LabInsight`)."""
        agg = state[kind][repr(start)]
        judged = agg["k"]
        return {
            "device_type": device_type,
            "window": kind,
            "window_start": datetime.fromtimestamp(start, UTC),
            "window_end": datetime.fromtimestamp(start + WINDOWS[kind].size, UTC),
            "commands": agg["n"],
            "unknown_commands": agg["u"] if judged else None,
            "unknown_share": agg["u"] / judged if judged else None,
            "top_commands": _top(agg["cmd"]),
        }
