"""The ground floor: names every room shares, importing nothing of LabStream's.

:mod:`foundation.settings` (``Settings``, ``Topics``: configuration and topic names),
:mod:`foundation.exceptions` (``LabStreamError`` and its shared subclasses),
:mod:`foundation.api_guard` (the HTTP gate every router of ``labstream api`` sits behind) and
:mod:`foundation.key_files` (development key files: the pseudonym and model signing keys).
``schemas``, ``producers``, ``detector`` and ``stream_processors`` import this package,
never ``labstream`` (the composition root); ``tests/test_layout.py`` enforces it.

>>> from foundation import Settings
>>> Settings(bootstrap_servers="k:9092").bootstrap_list
['k:9092']
"""

from foundation.exceptions import BrokerError, ConfigurationError, LabStreamError
from foundation.settings import Settings, Topics

__all__ = ["BrokerError", "ConfigurationError", "LabStreamError", "Settings", "Topics"]
