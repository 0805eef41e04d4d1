"""Linux shell lines: kept as typed (whitespace collapsed), categorised by what they do to the network.

- debug: active probes and captures (ping, traceroute, mtr, tcpdump, dig, nmap, iperf, ...).
- show: reading state (``ip addr``/``ip route`` without a changing verb, ss, netstat, cat, journalctl, ...).
- routing: changing routes or forwarding (``ip route add``, ``ip rule add``, ``route add``,
  ``sysctl -w net.ipv4.ip_forward=1``, writing ``/proc/sys/net/.../forwarding``).
- config: changing interfaces, addresses, neighbours, bridges, firewalls (``ip link set``, ``ip addr add``,
  ``nmcli con mod``, ``ifconfig eth0 10.0.0.1``, ``iptables -A``, ``hostnamectl set-hostname``).
- other: everything else (cd, ssh, apt, systemctl, editors, unknown).
``sudo`` (with its options) is skipped for categorising; ``vtysh -c "…"`` is categorised as IOS.
"""

from __future__ import annotations

from collections.abc import Callable

DEBUG = frozenset(
    "ping ping6 traceroute traceroute6 tracepath mtr tcpdump tshark arping nping nmap dig "
    "nslookup host iperf iperf3 strace termshark".split()
)
SHOW = frozenset(
    "ss netstat cat less more head tail grep ls journalctl dmesg lsof uname ps top htop df free "
    "who w lspci lsusb ifstat iftop nstat bmon ethtool networkctl resolvectl lldpctl birdc arp "
    "ifconfig route ip iptables ip6tables nft ufw firewall-cmd nmcli hostnamectl hostname bridge "
    "brctl sysctl wg ovs-vsctl systemctl ipcalc whoami id env printenv".split()
)
_IP_OBJECTS = tuple(
    "address addrlabel maddress route rule neighbor neighbour ntable link tunnel tuntap netns "
    "monitor vrf nexthop mroute xfrm".split()
)
_IP_ROUTING = frozenset({"route", "rule", "nexthop", "mroute"})
_CHANGE_VERBS = tuple("add append change delete del flush replace set prepend".split())
_SHOW_WORDS = frozenset("show list ls status -L -S --list -l get -nL -vL".split())
_MUTATING_WORDS = frozenset(
    "add del delete set modify mod up down connect disconnect reload load edit on off -A -D -I -F "
    "-R -P -N -X -s -K -w --add-port --add-service allow deny enable disable insert flush "
    "set-hostname addbr addif delbr delif add-br add-port del-br del-port".split()
)
_SERVICE = frozenset({"systemctl"})  # restarting services is not network configuration


def _strip_sudo(words: list[str]) -> list[str]:
    i = 0
    while i < len(words) and words[i] in ("sudo", "doas", "command", "exec", "time", "nohup"):
        i += 1
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in ("-u", "-g", "-h", "-p", "-C") else 1
    return words[i:]


def _ip_object(args: list[str]) -> tuple[str | None, list[str]]:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-n", "-netns", "-b", "-batch", "-rc", "-f", "-family") else 1
    if i >= len(args):
        return None, []
    word = args[i].lower()
    return next((o for o in _IP_OBJECTS if o.startswith(word)), None), args[i + 1 :]


def _ip(obj: str | None, rest: list[str]) -> str:
    if obj is None:
        return "other"
    verb = next((v for v in _CHANGE_VERBS if v.startswith(rest[0].lower())), None) if rest else None
    if verb is None or rest[0].lower() in ("show", "sh", "list", "ls", "get", "save"):
        return "show"
    return "routing" if obj in _IP_ROUTING else "config"


def categorize(line: str, cisco: Callable[[list[str]], str] | None) -> str:
    """Category of one shell line; ``cisco`` categorises the commands given to ``vtysh -c``."""
    if "/proc/sys/net/" in line and (">" in line or "tee" in line):
        return "routing" if "forward" in line else "config"
    words = _strip_sudo(line.split("|", 1)[0].split(";", 1)[0].split("&&", 1)[0].split())
    while True:  # wrappers that run another command: watch CMD, ip netns exec NS CMD
        if not words:
            return "other"
        cmd, args = words[0].rsplit("/", 1)[-1], words[1:]
        if cmd == "watch":
            words = _strip_sudo([a for a in args if not a.startswith("-")])
            continue
        if cmd != "ip":
            break
        obj, rest = _ip_object(args)
        if obj != "netns" or len(rest) < 3 or rest[0] != "exec":
            return _ip(obj, rest)
        words = _strip_sudo(rest[2:])
    if cmd in DEBUG:
        return "debug"
    if cmd == "vtysh" and "-c" in args and cisco is not None:
        joined = " ".join(args[args.index("-c") + 1 :])
        return cisco([part.strip().strip("\"'") for part in joined.split(" -c ")])
    if cmd not in SHOW:
        return "other"
    if cmd == "sysctl":
        if any("=" in a for a in args):
            return "routing" if any("forward" in a for a in args) else "config"
        return "show"
    if cmd in ("route", "arp") and args and args[0] in ("add", "del", "-s", "-d"):
        return "routing" if cmd == "route" else "config"
    if cmd == "ifconfig" and len([a for a in args if not a.startswith("-")]) > 1:
        return "config"
    if cmd == "hostname" and args and not args[0].startswith("-"):
        return "config"
    if cmd in _SERVICE:
        return "show" if args[:1] in (["status"], ["is-active"], ["list-units"]) else "other"
    if cmd in (
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "firewall-cmd",
        "nmcli",
        "hostnamectl",
        "bridge",
        "brctl",
        "ethtool",
        "wg",
        "ovs-vsctl",
        "birdc",
        "networkctl",
        "resolvectl",
    ):
        if any(a in _MUTATING_WORDS for a in args) and not any(a in _SHOW_WORDS for a in args[:1]):
            return "routing" if cmd == "birdc" else "config"
    return "show"
