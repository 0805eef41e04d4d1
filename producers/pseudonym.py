"""Keyed pseudonyms: ``anonymous_id = f"{key_id}-{HMAC-SHA256(key, student_id)[:32 hex]}"``.

A plain hash of a student id is reversible with a list of ids; an HMAC is not
without the key. The key id in the pseudonym lets a key be rotated (see
``docs/privacy.md``).

>>> p = Pseudonymizer(b"0" * 32, "k1")
>>> p.pseudonym("s-1")
'k1-5b8325c648b71aeb37b902949609fad6'
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

from foundation.exceptions import ConfigurationError
from foundation.key_files import load_or_create_key_file
from foundation.settings import Settings

__all__ = ["Pseudonymizer"]

_KEY_ID = re.compile(r"^[A-Za-z0-9_.:]{1,32}$")
_MIN_PRODUCTION_KEY_BYTES = 16


class Pseudonymizer:
    """HMAC-SHA256 pseudonyms of student ids, tagged with the key id.

    ``previous`` maps old key ids to old keys: during a rotation window
    :meth:`pseudonyms_during_rotation` gives every pseudonym a student had.
    """

    __slots__ = ("_cached", "_key", "_previous", "key_id")

    def __init__(self, key: bytes, key_id: str, previous: dict[str, bytes] | None = None) -> None:
        if not key:
            raise ConfigurationError("pseudonym key is empty")
        for kid in (key_id, *(previous or {})):
            if not _KEY_ID.match(kid):
                raise ConfigurationError("pseudonym key id must match [A-Za-z0-9_.:]{1,32}")
        self._key = hmac.new(key, digestmod=hashlib.sha256)
        self.key_id = key_id
        self._previous = {kid: hmac.new(k, digestmod=hashlib.sha256) for kid, k in (previous or {}).items()}
        # Students repeat: a bounded per-instance memo (in memory only, never logged) saves the HMAC.
        self._cached = functools.lru_cache(maxsize=65536)(self._compute)

    def __repr__(self) -> str:  # never the key
        return f"Pseudonymizer(key_id={self.key_id!r}, previous={sorted(self._previous)!r})"

    @staticmethod
    def _digest(mac: hmac.HMAC, student_id: str) -> str:
        m = mac.copy()
        m.update(student_id.encode("utf-8"))
        return m.hexdigest()[:32]

    def _compute(self, student_id: str) -> str:
        return f"{self.key_id}-{self._digest(self._key, student_id)}"

    def pseudonym(self, student_id: str) -> str:
        """The current pseudonym of a student id."""
        return self._cached(student_id)

    def pseudonyms_during_rotation(self, student_id: str) -> dict[str, str]:
        """Pseudonyms under the current and every previous key, by key id (current first)."""
        out = {self.key_id: self.pseudonym(student_id)}
        for kid, mac in self._previous.items():
            out.setdefault(kid, f"{kid}-{self._digest(mac, student_id)}")
        return out

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymizer:
        """The configured key; in development a key file is created when no key is set.

        In production a key must be configured (``LABSTREAM_PSEUDONYM_KEY`` or an
        existing ``pseudonym_key_file``); otherwise :class:`ConfigurationError`.
        """
        previous = {
            kid: s.get_secret_value().encode("utf-8") for kid, s in settings.previous_pseudonym_keys.items()
        }
        production = settings.environment == "production"
        if settings.pseudonym_key is not None and settings.pseudonym_key.get_secret_value():
            key = settings.pseudonym_key.get_secret_value().encode("utf-8")
        elif production:
            path = settings.pseudonym_key_file
            if path is None or not path.is_file():
                raise ConfigurationError(
                    "production needs a pseudonym key: set LABSTREAM_PSEUDONYM_KEY or an existing "
                    "LABSTREAM_PSEUDONYM_KEY_FILE"
                )
            key = path.read_bytes()
        else:
            path = settings.pseudonym_key_file or settings.data_dir / "pseudonym.key"
            key = load_or_create_key_file(path, what="pseudonym key")
        if production and len(key) < _MIN_PRODUCTION_KEY_BYTES:
            raise ConfigurationError(
                f"production pseudonym key must have at least {_MIN_PRODUCTION_KEY_BYTES} bytes"
            )
        if settings.pseudonym_key_id in previous:
            raise ConfigurationError("pseudonym_key_id also appears in previous_pseudonym_keys")
        return cls(key, settings.pseudonym_key_id, previous)
