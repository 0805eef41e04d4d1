"""Network-metrics anomaly detection: features, training, evaluation, model registry, drift.

Imports only ``schemas``, numpy and scikit-learn (skops for the registry,
matplotlib lazily for the report). No Kafka, no Faust.

>>> import tempfile, pathlib, numpy as np
>>> reg = ModelRegistry(pathlib.Path(tempfile.mkdtemp()))
>>> det = reg.ensure_model(seed=42)
>>> baselines = {}
>>> [v] = det.score_batch(np.array([[0.001, 20.0, 0.4, 100, 0.001]]), ["r1"], baselines)
>>> baselines["r1"]["n"]
1
"""

from detector.baseline import BaselineParams
from detector.calibration import TailCalibrator
from detector.drift import DriftMonitor, DriftReport, psi, reference_from
from detector.exceptions import DetectorError, ModelIntegrityError, ModelNotFoundError, TrainingDataError
from detector.follower import ModelFollower
from detector.model import Detector, Scores, Verdict
from detector.registry import TRUSTED_TYPES, ModelRegistry
from detector.synthetic import synthetic_normal_traffic
from detector.training import train_detector

__all__ = [
    "TRUSTED_TYPES",
    "BaselineParams",
    "Detector",
    "DetectorError",
    "DriftMonitor",
    "DriftReport",
    "ModelFollower",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelRegistry",
    "Scores",
    "TailCalibrator",
    "TrainingDataError",
    "Verdict",
    "psi",
    "reference_from",
    "synthetic_normal_traffic",
    "train_detector",
]
