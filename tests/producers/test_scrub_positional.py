"""Credentials by position: only the secret positions of known calls, read with nesting and strings."""

from __future__ import annotations

import pytest

from producers import Scrubber

R = '"<redacted:credential>"'


@pytest.mark.parametrize(
    ("code", "want"),
    [
        # a comma inside a string or a nested call does not shift the positions
        (
            'ConnectHandler(f(1, 2), "a,b", g("x", y), "pw1")',
            f'ConnectHandler(f(1, 2), "a,b", g("x", y), {R})',
        ),
        # keyword arguments end the positional ones: device_type is not a secret
        ('ConnectHandler("r1", device_type="cisco_ios", password=pw)', None),
        # a variable in the secret position holds no secret in the code
        ("client.connect(host, 22, user, password)", None),
        # fewer arguments than the secret position
        ('sock.connect(("10.0.0.1", 22))', None),
        ('db = sqlite3.connect("lab.db")', None),
        # an escaped quote inside the secret
        ('ftp.login("anonymous", "p\\"w")', f'ftp.login("anonymous", {R})'),
        # a name bound to get_network_driver(...) is a napalm driver class
        (
            'drv = get_network_driver("junos")\nd = drv("vmx", "lab", "pw2")',
            f'drv = get_network_driver("junos")\nd = drv("vmx", "lab", {R})',
        ),
        # single quotes, a string prefix, a call over several lines
        (
            "Device(\n    'vsrx',\n    'root',\n    r'pw3',\n)",
            "Device(\n    'vsrx',\n    'root',\n    r'<redacted:credential>',\n)",
        ),
    ],
)
def test_positional_credentials(code: str, want: str | None) -> None:
    seen: list[str] = []
    out = Scrubber(seen.append).code("python", code)
    assert out == (code if want is None else want)
    assert len(seen) == (0 if want is None else 1)
    compile(out, "<lab>", "exec")


def test_not_python_is_left_to_the_other_rules() -> None:
    code = 'ConnectHandler("r1", "", "admin", "pw4")'
    assert Scrubber().code("text", code) == code
