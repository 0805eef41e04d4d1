"""Secret scrubbing before publishing: replace only the secret with ``<redacted:kind>``.

The rest of a command line stays, so it can still be categorised; code keeps
its syntax because only the inside of a string literal (or a token) changes.
What is scrubbed is reported per kind to a callback (the collector counts it
in ``labstream_scrubbed_secrets_total{kind}``) and never logged.

>>> s = Scrubber()
>>> s.command("cisco_ios", "username admin privilege 15 secret 5 $1$abc$xyz")
'username admin privilege 15 secret 5 <redacted:user_password>'
>>> s.code("python", 'c = ConnectHandler(host="r1", password="hunter2")')
'c = ConnectHandler(host="r1", password="<redacted:credential>")'
"""

from __future__ import annotations

from producers.scrub.engine import Rule, Scrubber, marker

__all__ = ["Rule", "Scrubber", "marker"]
