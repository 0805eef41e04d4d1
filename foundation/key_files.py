"""Development key files: the pseudonym key and the model signing key are read from a file, or the
file is created once with random bytes.

Creation is ``O_CREAT | O_EXCL`` with mode 0600, so two processes starting together never both
write a key, and the bytes are fsynced before the key is used. An empty file is refused rather
than used as a key (that includes one a second process reads in the instant between the first's
create and write: it fails loudly, it never runs on an empty key); a file others can read is
logged as a warning (its path only, never its bytes).

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.key"
>>> key = load_or_create_key_file(path, what="example key")
>>> len(key), oct(path.stat().st_mode & 0o777), load_or_create_key_file(path, what="example key") == key
(32, '0o600', True)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from foundation.exceptions import ConfigurationError

__all__ = ["DEV_KEY_BYTES", "load_or_create_key_file"]

log = logging.getLogger(__name__)

DEV_KEY_BYTES = 32


def load_or_create_key_file(
    path: Path, *, what: str, empty_error: Callable[[str], Exception] = ConfigurationError
) -> bytes:
    """The key in ``path``, creating the file (``DEV_KEY_BYTES`` random bytes, mode 0600) when missing.

    ``what`` names the key in the messages ("pseudonym key"); an empty file raises
    ``empty_error`` (a room's own error class, so its callers' handling holds).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if not key:
            raise empty_error(f"{what} file {path} is empty") from None
        if path.stat().st_mode & 0o077:
            log.warning("%s file %s is readable by others; chmod 600 it", what, path)
        return key
    key = os.urandom(DEV_KEY_BYTES)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    log.info("created development %s file %s (mode 0600)", what, path)
    return key
