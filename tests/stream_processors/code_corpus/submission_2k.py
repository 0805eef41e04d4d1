"""A student's 2 KB submission: parse 'show ip interface brief' output with netmiko."""

import re
from collections import defaultdict
from dataclasses import dataclass

from netmiko import ConnectHandler

ROW = re.compile(r"^(?P<name>\S+)\s+(?P<ip>\S+)\s+\w+\s+\w+\s+(?P<status>up|down|administratively down)")


@dataclass
class Interface:
    name: str
    ip: str | None
    status: str

    @property
    def is_up(self) -> bool:
        return self.status == "up"


def parse_brief(output: str) -> list[Interface]:
    """Rows of 'show ip interface brief', skipping the header."""
    found = []
    for line in output.splitlines()[1:]:
        m = ROW.match(line)
        if not m:
            continue
        ip = None if m["ip"] == "unassigned" else m["ip"]
        found.append(Interface(m["name"], ip, m["status"]))
    return found


def summarise(interfaces: list[Interface]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for intf in interfaces:
        counts["up" if intf.is_up else "down"] += 1
        if intf.ip is None:
            counts["unassigned"] += 1
    return dict(counts)


def collect(host: str, username: str, password: str) -> dict[str, int]:
    device = {"device_type": "cisco_ios", "host": host, "username": username, "password": password}
    with ConnectHandler(**device) as conn:
        output = conn.send_command("show ip interface brief")
    return summarise(parse_brief(output))


def main() -> None:
    import json
    import sys

    hosts = sys.argv[1:] or ["10.0.0.1", "10.0.0.2"]
    report = {}
    for host in hosts:
        try:
            report[host] = collect(host, "student", "lab")
        except OSError as exc:
            report[host] = {"error": str(exc)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
