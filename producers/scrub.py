"""Secret scrubbing (placeholder; rules land in step 2)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Scrubber"]


class Scrubber:
    """Replaces secrets with ``<redacted:kind>`` markers."""

    def __init__(self, on_scrub: Callable[[str], None] | None = None) -> None:
        self._on_scrub = on_scrub

    def command(self, device_type: str, command: str) -> str:
        return command

    def code(self, language: str, code: str) -> str:
        return code
