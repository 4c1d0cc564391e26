"""The model package: one ``.pneumonet`` file holding architecture, weights and model card.

Layout (a zip archive): ``pneumonet-model.json`` (format marker), ``card.json``,
``architecture.json`` (the Keras model config), ``weights.json`` (one entry per weight:
path, shape, encoding) and ``weights/NNNN.npy`` arrays. Weights may be stored as float32,
float16, or int8 per output channel with float32 scales; loading restores float32. The
content hash covers architecture and weights (not the card, which can be re-annotated)
and is checked on every load.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumonet_core.atomic import atomic_path
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models.card import ModelCard

FORMAT_NAME = "pneumonet-model"
FORMAT_VERSION = 1
SUFFIX = ".pneumonet"
COMPRESSIONS = ("float32", "float16", "int8")
#: Tensors smaller than this stay float32 under any compression (biases, BatchNorm): they
#: weigh nothing and are the most sensitive to rounding.
_MIN_COMPRESSED_SIZE = 4096


@dataclass
class ModelPackage:
    """A loaded model with its card; ``model`` is a float32 Keras model."""

    model: object
    card: ModelCard
    path: Path | None = None


def is_model_package(path: Path) -> bool:
    """True when ``path`` is a zip carrying the Pneumonet format marker."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "pneumonet-model.json" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _encode(array: np.ndarray, compression: str) -> tuple[dict[str, np.ndarray], str]:
    """Return the arrays to store for one weight and its encoding name."""
    array = np.asarray(array, dtype=np.float32)
    if compression == "float32" or array.size < _MIN_COMPRESSED_SIZE or array.ndim < 2:
        return {"value": array}, "float32"
    if compression == "float16":
        return {"value": array.astype(np.float16)}, "float16"
    # int8, symmetric, one scale per output channel (the last axis for Conv2D and Dense).
    flat = array.reshape(-1, array.shape[-1])
    scale = np.abs(flat).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.round(flat / scale), -127, 127).astype(np.int8).reshape(array.shape)
    return {"value": q, "scale": scale}, "int8"


def _decode(parts: dict[str, np.ndarray], encoding: str) -> np.ndarray:
    if encoding == "int8":
        return parts["value"].astype(np.float32) * parts["scale"].astype(np.float32)
    return parts["value"].astype(np.float32)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def save_package(model, card: ModelCard, path: str | Path, compression: str = "float32") -> ModelCard:
    """Write ``model`` and ``card`` to ``path`` atomically; return the card with its hash set.

    The file appears only when complete (written beside it, then renamed), so a crash or
    a cancel never leaves a half-written model.
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}")
    path = Path(path)
    architecture = model.to_json().encode("utf-8")
    entries: list[tuple[str, bytes]] = []
    manifest = []
    digest = hashlib.sha256(architecture)
    for i, weight in enumerate(model.weights):
        parts, encoding = _encode(np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight), compression)
        item = {"path": weight.path, "shape": list(weight.shape), "encoding": encoding, "files": {}}
        for part, array in parts.items():
            name = f"weights/{i:04d}_{part}.npy"
            data = _npy_bytes(array)
            digest.update(name.encode())
            digest.update(data)
            entries.append((name, data))
            item["files"][part] = name
        manifest.append(item)
    manifest_bytes = json.dumps(manifest).encode("utf-8")
    digest.update(manifest_bytes)
    card.hash = digest.hexdigest()
    card.compression = compression
    # A model file is meant to be shared: 0644 whatever the umask.
    with atomic_path(path, mode=0o644, suffix=SUFFIX) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr("pneumonet-model.json", json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION}))
            zf.writestr("card.json", card.to_json())
            zf.writestr("architecture.json", architecture)
            zf.writestr("weights.json", manifest_bytes)
            for name, data in entries:
                zf.writestr(name, data)
    return card


def update_card(path: str | Path, card: ModelCard) -> None:
    """Rewrite only the card of an existing package (atomically); the hash must not change."""
    path = Path(path)
    old = read_card(path)
    if card.hash != old.hash:
        raise ModelPackageError(path, "card hash does not match the package contents")
    with atomic_path(path, mode=0o644, suffix=SUFFIX) as tmp:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = card.to_json().encode() if info.filename == "card.json" else src.read(info.filename)
                dst.writestr(info.filename, data)


def _open(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise ModelPackageError(path, "model file not found")
    if path.is_dir():
        raise ModelPackageError(path, "is a folder, not a model file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelPackageError(path, f"not a Pneumonet model file ({exc})") from None
    try:
        marker = json.loads(zf.read("pneumonet-model.json"))
    except KeyError:
        zf.close()
        raise ModelPackageError(path, "not a Pneumonet model file (no format marker)") from None
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        zf.close()
        raise ModelPackageError(path, f"corrupt model file ({exc})") from None
    if marker.get("format") != FORMAT_NAME or int(marker.get("version", 0)) > FORMAT_VERSION:
        zf.close()
        raise ModelPackageError(path, f"unsupported model format {marker}")
    return zf


def read_card(path: str | Path) -> ModelCard:
    """Read the card alone (fast: no Keras, no weights), for listings and ``info``."""
    path = Path(path)
    with _open(path) as zf:
        try:
            return ModelCard.from_dict(json.loads(zf.read("card.json")))
        except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ModelPackageError(path, f"corrupt model card ({exc})") from None


def load_package(path: str | Path) -> ModelPackage:
    """Load and verify a package: the one model loader of Pneumonet.

    Fails with :class:`ModelPackageError` (one line) on a missing, foreign, corrupt or
    tampered file.
    """
    path = Path(path)
    with _open(path) as zf:
        try:
            card = ModelCard.from_dict(json.loads(zf.read("card.json")))
            architecture = zf.read("architecture.json")
            manifest_bytes = zf.read("weights.json")
            manifest = json.loads(manifest_bytes)
            digest = hashlib.sha256(architecture)
            weights = []
            for item in manifest:
                parts = {}
                for part, name in item["files"].items():
                    data = zf.read(name)
                    digest.update(name.encode())
                    digest.update(data)
                    parts[part] = np.load(io.BytesIO(data), allow_pickle=False)
                weights.append(_decode(parts, item["encoding"]).reshape(item["shape"]))
            digest.update(manifest_bytes)
        except (KeyError, ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelPackageError(path, f"corrupt model file ({type(exc).__name__}: {exc})") from None
    if digest.hexdigest() != card.hash:
        raise ModelPackageError(path, "content hash mismatch: the file was modified or damaged")
    model = _model_from_architecture(path, architecture)
    if len(model.weights) != len(weights):
        raise ModelPackageError(path, "weights do not match the architecture")
    for variable, item, value in zip(model.weights, manifest, weights):
        if tuple(variable.shape) != tuple(value.shape):
            raise ModelPackageError(path, f"weight {item['path']} has shape {value.shape}, expected {variable.shape}")
        variable.assign(value)
    return ModelPackage(model=model, card=card, path=path)


def _model_from_architecture(path: Path, architecture: bytes):
    import keras

    from pneumonet_core.models import layers  # noqa: F401  (registers the custom layers)

    # A model trained under mixed precision is always restored in float32: inference on
    # the CPU has no fast bfloat16, and the stored weights are float32 anyway.
    text = architecture.decode("utf-8")
    for policy in ("mixed_bfloat16", "mixed_float16"):
        text = text.replace(f'"{policy}"', '"float32"')
    try:
        return keras.models.model_from_json(text)
    except Exception as exc:  # Keras raises many types for a bad config
        raise ModelPackageError(path, f"cannot rebuild the architecture ({type(exc).__name__}: {exc})") from None
