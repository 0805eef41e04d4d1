"""Root of LabStream's exceptions.

Every error LabStream raises derives from :class:`LabStreamError`. The class
attribute ``retriable`` tells the dead-letter/retry/crash decision what to do:
a retriable error is tried again (or spooled), a non-retriable one is
dead-lettered with its reason.
"""

from __future__ import annotations


class LabStreamError(Exception):
    """Root of all LabStream errors."""

    retriable: bool = False


class ConfigurationError(LabStreamError):
    """Settings are missing or contradict each other."""


class BrokerError(LabStreamError):
    """The embedded broker could not be started or did not answer."""

    retriable = True
