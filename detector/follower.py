"""Following the registry's promoted model: the one rule the worker and ``labstream api`` share.

A newly promoted version is loaded only after its checks (signature, checksum, skops types,
:meth:`ModelRegistry.load`); one that fails them is refused, logged once per version, and the
caller keeps the model it has.

>>> import tempfile, pathlib
>>> reg = ModelRegistry(pathlib.Path(tempfile.mkdtemp()))
>>> follower = ModelFollower(reg, reg.ensure_model(seed=42).version)
>>> follower.poll() is None  # nothing newer promoted
True
"""

from __future__ import annotations

import logging

from detector.exceptions import DetectorError
from detector.model import Detector
from detector.registry import ModelRegistry

__all__ = ["ModelFollower"]

log = logging.getLogger(__name__)


class ModelFollower:
    """Polls ``registry`` for a promoted version other than the one in service (``version``)."""

    def __init__(self, registry: ModelRegistry, version: str | None = None) -> None:
        self.registry = registry
        self.version = version  # the version in service (None: none yet)
        self._refused: str | None = None  # the last promoted version that failed its checks

    def poll(self) -> Detector | None:
        """The newly promoted model, loaded and checked; None when nothing changed or it was refused.

        Blocking file reads (and, on a change, a model load): run it off the event loop.
        """
        version = self.registry.current_version()
        if version is None or version == self.version:
            return None
        try:
            det = self.registry.load(version)
        except DetectorError as e:
            # refused: the model in service stays (raising here crashed the worker's timer)
            if version != self._refused:
                log.error("model %s refused, keeping %s: %s", version, self.version, e)  # noqa: TRY400
                self._refused = version
            return None
        self.version = det.version
        return det
