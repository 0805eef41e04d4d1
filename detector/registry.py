"""Versioned models on disk, saved with skops, signed, loaded only after signature, checksum and type checks.

Layout under ``model_dir``::

    versions/<version>/model.skops      the model (skops format: a zip of JSON + numpy arrays)
    versions/<version>/metadata.json    version, trained_at, data summary, features, library
                                        versions, thresholds, evaluation, sha256 of model.skops,
                                        and ``signature``: HMAC-SHA256 over all the rest
    CURRENT                             the promoted version (replaced atomically via rename)
    history.json                        promoted versions, oldest first (rollback pops)
    signing.key                         development only: the signing key, created (mode 0600)
                                        when no key is given

**Signing.** The registry holds a key (``LABSTREAM_MODEL_SIGNING_KEY`` or
``LABSTREAM_MODEL_SIGNING_KEY_FILE`` through :meth:`ModelRegistry.from_settings`; in
development, without either, the ``signing.key`` file above). Saving a version signs
its metadata, which carries the sha256 of the model file, so the signature covers
both; updating the metadata signs it again. Loading (and so promoting, which loads
first) checks, in order: the signature (missing, made with another key, or not
matching: refused), that the metadata names this version, the file's sha256, then
asks skops which types the file would instantiate and refuses any outside
:data:`TRUSTED_TYPES`; it never uses ``trusted=True`` and never pickle. A model or
metadata written by anyone without the key is refused before its file is parsed.
In development the key sits beside the models, so it separates users, not the
directory's owner; production needs a key kept elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn
import skops
import skops.io as sio

from detector.exceptions import ModelIntegrityError, ModelNotFoundError
from detector.model import Detector
from detector.synthetic import synthetic_normal_traffic
from detector.training import train_detector
from foundation.key_files import load_or_create_key_file
from schemas import METRIC_FIELDS

if TYPE_CHECKING:
    from foundation.settings import Settings

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
DEV_KEY_FILE = "signing.key"
SIGNATURE_ALG = "HMAC-SHA256"
_SIGNED_PREFIX = b"labstream-model-metadata-v1\n"
# Types beyond skops' defaults that a LabStream model may contain: an IsolationForest's tree arrays.
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)
_REQUIRED_KEYS = frozenset(
    {
        "format",
        "forest",
        "params",
        "g_center",
        "g_scale",
        "global_median",
        "global_scale",
        "g_cal",
        "d_cal",
        "threshold",
        "reference",
    }
)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _canonical(meta: dict[str, Any]) -> bytes:
    """What the signature covers: the metadata without its signature, as canonical JSON."""
    body = {k: v for k, v in meta.items() if k != "signature"}
    return _SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(key: bytes) -> str:
    """A short fingerprint of a signing key (names the key in metadata and errors; reveals nothing)."""
    return hashlib.sha256(b"labstream-model-key-id\0" + key).hexdigest()[:12]


def _load_or_create_key(path: Path) -> bytes:
    """A development key file (:func:`foundation.key_files.load_or_create_key_file`); an empty one
    is a :class:`ModelIntegrityError`, which a model follower survives."""
    return load_or_create_key_file(path, what="model signing key", empty_error=ModelIntegrityError)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


class ModelRegistry:
    """Versioned detector models in ``model_dir``.

    >>> import tempfile, pathlib
    >>> reg = ModelRegistry(pathlib.Path(tempfile.mkdtemp()))
    >>> reg.current_version() is None
    True
    >>> det = reg.ensure_model(seed=42)
    >>> reg.current_version() == det.version
    True
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        signing_key: bytes | None = None,
        target_false_alert_rate: float = 0.00025,
        alert_window_s: float = 300.0,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.target_false_alert_rate = target_false_alert_rate
        self.alert_window_s = alert_window_s
        self._signing_key = signing_key  # None: the development key file, read when first needed

    @classmethod
    def from_settings(cls, settings: Settings, model_dir: Path | None = None) -> ModelRegistry:
        """The registry of ``settings.model_dir`` with the configured signing key.

        ``LABSTREAM_MODEL_SIGNING_KEY``, else ``LABSTREAM_MODEL_SIGNING_KEY_FILE`` (which must
        exist in production); in production one of them is required (``ConfigurationError``),
        in development the registry's own ``signing.key`` is used.
        """
        from foundation.exceptions import ConfigurationError

        key: bytes | None = None
        if settings.model_signing_key is not None:
            key = settings.model_signing_key.get_secret_value().encode("utf-8")
        elif settings.model_signing_key_file is not None:
            path = settings.model_signing_key_file
            if settings.environment == "production" and not path.is_file():
                raise ConfigurationError(f"model signing key file {path} does not exist")
            key = _load_or_create_key(path)
        elif settings.environment == "production":
            raise ConfigurationError(
                "production needs a model signing key: set LABSTREAM_MODEL_SIGNING_KEY (32+ characters) "
                "or LABSTREAM_MODEL_SIGNING_KEY_FILE"
            )
        return cls(
            model_dir if model_dir is not None else settings.model_dir,
            signing_key=key,
            target_false_alert_rate=settings.target_false_alert_rate,
            alert_window_s=settings.alert_window_s,
        )

    # --- signing ---------------------------------------------------------
    @property
    def _key(self) -> bytes:
        if self._signing_key is None:
            self._signing_key = _load_or_create_key(self.model_dir / DEV_KEY_FILE)
        return self._signing_key

    def _sign(self, meta: dict[str, Any]) -> dict[str, Any]:
        """``meta`` (as it will read back from JSON) with its signature."""
        meta = json.loads(json.dumps({k: v for k, v in meta.items() if k != "signature"}))
        value = hmac.new(self._key, _canonical(meta), hashlib.sha256).hexdigest()
        return {**meta, "signature": {"alg": SIGNATURE_ALG, "key_id": key_id(self._key), "value": value}}

    def verify(self, version: str, meta: dict[str, Any]) -> None:
        """Refuse (:class:`ModelIntegrityError`) metadata not signed by this registry's key."""
        sig = meta.get("signature")
        if not isinstance(sig, dict) or not isinstance(sig.get("value"), str):
            raise ModelIntegrityError(
                f"refusing model {version!r}: unsigned (not written with the registry's signing key)"
            )
        ours = key_id(self._key)
        if sig.get("key_id") != ours or sig.get("alg") != SIGNATURE_ALG:
            raise ModelIntegrityError(
                f"refusing model {version!r}: signed with another key (key id {str(sig.get('key_id'))[:12]}, "
                f"this registry's is {ours})"
            )
        expected = hmac.new(self._key, _canonical(meta), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig["value"]):
            raise ModelIntegrityError(
                f"refusing model {version!r}: signature does not match its metadata "
                "(metadata or checksum changed after signing)"
            )
        if meta.get("version") != version:
            raise ModelIntegrityError(
                f"refusing model {version!r}: its signed metadata names version {meta.get('version')!r}"
            )

    # --- reading -------------------------------------------------------
    def current_version(self) -> str | None:
        """The promoted version (reads one small file; cheap enough to poll every few seconds)."""
        try:
            return (self.model_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def metadata(self, version: str) -> dict[str, Any]:
        path = self.model_dir / "versions" / version / METADATA_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ModelNotFoundError(f"no model version {version!r} in {self.model_dir}") from e

    def versions(self) -> list[dict[str, Any]]:
        """Metadata of every stored version, oldest first."""
        root = self.model_dir / "versions"
        metas = (
            [self.metadata(p.name) for p in root.iterdir() if (p / METADATA_FILE).exists()]
            if root.exists()
            else []
        )
        return sorted(metas, key=lambda m: (m["trained_at"], m["version"]))

    def load(self, version: str) -> Detector:
        """Load a version after checking its signature, its checksum and the types it contains."""
        meta = self.metadata(version)
        self.verify(version, meta)
        return self._load_checked_file(version, meta)

    def sign(self, version: str) -> None:
        """Vouch for a version saved before models were signed, or under another key: check its
        checksum and the types it contains (as :meth:`load` does), then sign its metadata with
        this registry's key. Only for versions whose origin you know."""
        meta = self.metadata(version)
        if meta.get("version") != version:
            raise ModelIntegrityError(
                f"refusing model {version!r}: its metadata names {meta.get('version')!r}"
            )
        self._load_checked_file(version, meta)
        _atomic_write(
            self.model_dir / "versions" / version / METADATA_FILE, json.dumps(self._sign(meta), indent=2)
        )

    def _load_checked_file(self, version: str, meta: dict[str, Any]) -> Detector:
        path = self.model_dir / "versions" / version / MODEL_FILE
        if not path.exists():
            raise ModelNotFoundError(f"model file missing for version {version!r}: {path}")
        actual = sha256_of(path)
        if actual != meta.get("sha256"):
            raise ModelIntegrityError(
                f"refusing model {version!r}: sha256 of {path.name} is {actual[:12]}..., metadata says "
                f"{str(meta.get('sha256'))[:12]}... (file changed or corrupt)"
            )
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except (zipfile.BadZipFile, ValueError, KeyError, OSError) as e:
            raise ModelIntegrityError(
                f"refusing model {version!r}: {path.name} is not a skops file ({type(e).__name__}); "
                "pickle/joblib files are never loaded"
            ) from e
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise ModelIntegrityError(f"refusing model {version!r}: untrusted types {unexpected}")
        try:
            state = sio.load(path, trusted=list(TRUSTED_TYPES))
        except Exception as e:  # noqa: BLE001 - any failure to decode is an integrity problem
            raise ModelIntegrityError(f"refusing model {version!r}: cannot decode ({e})") from e
        missing = _REQUIRED_KEYS - set(state) if isinstance(state, dict) else _REQUIRED_KEYS
        if missing or state.get("format") != 1:
            raise ModelIntegrityError(f"refusing model {version!r}: not a LabStream detector state")
        return Detector(state, version=version)

    def load_current(self) -> Detector:
        version = self.current_version()
        if version is None:
            raise ModelNotFoundError(f"no promoted model in {self.model_dir}")
        return self.load(version)

    # --- writing -------------------------------------------------------
    def save(self, det: Detector, data_summary: dict[str, Any], evaluation: dict | None = None) -> str:
        """Store ``det`` as a new version (written aside, then renamed into place); sets ``det.version``."""
        trained_at = datetime.now(UTC)
        root = self.model_dir / "versions"
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".new-"))
        sio.dump(det.state, tmp / MODEL_FILE)
        digest = sha256_of(tmp / MODEL_FILE)
        version = f"{trained_at:%Y%m%dT%H%M%S%f}Z-{digest[:8]}"
        meta = {
            "version": version,
            "trained_at": trained_at.isoformat(),
            "data": data_summary,
            "features": {"raw": list(METRIC_FIELDS), "deviation": [f"{f}_robust_z" for f in METRIC_FIELDS]},
            "libraries": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
                "skops": skops.__version__,
            },
            "thresholds": det.thresholds,
            "target_false_alert_rate": det.state["target_false_alert_rate"],
            "events_per_window": det.state["events_per_window"],
            "baseline": {
                "alpha": det.params.alpha,
                "warmup": det.params.warmup,
                "clip_z": det.params.clip_z,
                "short_alpha": det.params.short_alpha,
                "short_clip_z": det.params.short_clip_z,
                "trend_alpha": det.params.trend_alpha,
                "trend_cap": np.asarray(det.params.trend_cap).tolist(),
                "censor_at_bounds": det.params.censor_at_bounds,
                "self_check_after": det.params.self_check_after,
                "warmup_learns_all": det.params.warmup_learns_all,
                "drop_floor": det.params.drop_floor,
                "defer_level": det.params.defer_level,
                "defer_level_above": det.params.defer_level_above,
                "cusum_k": det.params.cusum_k,
                "cusum_clip": det.params.cusum_clip,
                "cusum_cap": det.params.cusum_cap,
                "cusum_features": list(det.params.cusum_features),
                "cusum_margin": det.params.cusum_margin,
                "far_levels": list(det.far_levels),
            },
            "drift_reference": _jsonable(det.state["reference"]),
            "evaluation": evaluation,
            "sha256": digest,
        }
        meta = self._sign(meta)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, root / version)
        det.version = version
        return version

    def update_metadata(self, version: str, **fields: Any) -> None:
        """Change metadata fields of a version this registry signed, and sign it again."""
        meta = self.metadata(version)
        self.verify(version, meta)  # never re-sign what someone else wrote
        meta = self._sign({**meta, **fields})
        _atomic_write(self.model_dir / "versions" / version / METADATA_FILE, json.dumps(meta, indent=2))

    def _history(self) -> list[str]:
        try:
            return list(json.loads((self.model_dir / "history.json").read_text(encoding="utf-8")))
        except FileNotFoundError:
            return []

    def promote(self, version: str) -> None:
        """Make ``version`` current (it must load cleanly first): atomic rename of the pointer file."""
        self.load(version)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        history = self._history()
        _atomic_write(self.model_dir / "history.json", json.dumps([*history, version]))
        _atomic_write(self.model_dir / "CURRENT", version + "\n")

    def rollback(self) -> str:
        """Re-promote the version promoted before the current one; returns it."""
        history = self._history()
        if len(history) < 2:
            raise ModelNotFoundError("nothing to roll back to: fewer than two promotions recorded")
        previous = history[-2]
        self.load(previous)
        _atomic_write(self.model_dir / "history.json", json.dumps(history[:-1]))
        _atomic_write(self.model_dir / "CURRENT", previous + "\n")
        return previous

    def delete_unpromoted_temp(self) -> None:
        """Remove half-written version directories left by a crash."""
        for p in (self.model_dir / "versions").glob(".new-*"):
            shutil.rmtree(p, ignore_errors=True)

    def ensure_model(self, seed: int = 42) -> Detector:
        """The promoted model; on an empty registry, train one on SYNTHETIC traffic and promote it."""
        if self.current_version() is not None:
            return self.load_current()
        n_devices, minutes = 50, 1440
        rows, ids, _ = synthetic_normal_traffic(n_devices=n_devices, minutes=minutes, seed=seed)
        det = train_detector(
            rows,
            ids,
            seed=seed,
            target_false_alert_rate=self.target_false_alert_rate,
            events_per_window=self.alert_window_s / 60.0,
        )
        summary = {
            "source": "synthetic",
            "synthetic": True,
            "generator": "detector.synthetic",
            "seed": seed,
            "devices": n_devices,
            "events": int(rows.shape[0]),
            "events_per_device_per_minute": 1,
            "simulated_minutes": minutes,
        }
        self.save(det, summary)
        self.promote(det.version)
        return det
