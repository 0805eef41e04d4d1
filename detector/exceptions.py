"""Errors raised by the detector package.

``detector/`` may not import ``labstream``, so its root is its own
:class:`DetectorError`; the CLI wraps it into ``LabStreamError``. The class
attribute ``retriable`` follows the project's convention.
"""

from __future__ import annotations


class DetectorError(Exception):
    """Root of the detector's errors."""

    retriable: bool = False


class ModelNotFoundError(DetectorError):
    """The registry holds no promoted model, or no model of the requested version."""


class ModelIntegrityError(DetectorError):
    """A model file failed its checksum, is not a skops file, or holds untrusted types."""


class TrainingDataError(DetectorError):
    """Training data is missing, too small, or malformed."""
