"""The model package: one ``.pneumonet`` file holding architecture, weights, extra files and
the model card; :func:`load_package` is the one model loader of Pneumonet.

Layout (a zip archive): ``pneumonet-model.json`` (format marker), ``card.json``,
``architecture.json`` (the Keras model config), ``weights.json`` (one entry per weight:
path, shape, encoding), ``weights/NNNN_*.npy`` arrays, optional ``extra/*`` files (for
example the out-of-distribution reference), and ``integrity.json``, the manifest that
:mod:`~pneumonet_core.models.integrity` checks on every read. Weights may be stored as
float32, float16, or int8 per output channel with float32 scales; loading restores float32.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pneumonet_core.atomic import atomic_path
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.imaging.limits import give_free_heap_back
from pneumonet_core.models import integrity, signing
from pneumonet_core.models.archive import FORMAT_NAME, FORMAT_VERSION, MARKER, SUFFIX, read_card, verified_files
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.safe_config import UnsafeArchitecture, check_architecture
from pneumonet_core.runtime.precision import architecture_for_precision

COMPRESSIONS = ("float32", "float16", "int8")
EXTRA_PREFIX = "extra/"
#: Tensors smaller than this stay float32 under any compression (biases, BatchNorm): they
#: weigh nothing and are the most sensitive to rounding.
_MIN_COMPRESSED_SIZE = 4096
#: The oldest Keras trusted to rebuild an architecture (fixes for CVE-2025-8747, -9906,
#: -12060 and CVE-2026-1462 on load).
MIN_KERAS = (3, 14)


@dataclass
class ModelPackage:
    """A loaded model with its card; ``model`` is a Keras model built for ``precision``."""

    #: A ``keras.Model`` (None when only the card and files were read): Any, as the core
    #: imports Keras only where it builds or runs a model.
    model: Any
    card: ModelCard
    path: Path | None = None
    extras: dict[str, bytes] = field(default_factory=dict)  # name (without "extra/") -> bytes
    precision: str = "float32"  # "bfloat16": mixed_bfloat16 layers, float32 weights and outputs


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


def _model_files(model, compression: str) -> dict[str, bytes]:
    """architecture.json, weights.json and the weight arrays of ``model``."""
    files = {"architecture.json": model.to_json().encode("utf-8")}
    manifest = []
    for i, weight in enumerate(model.weights):
        parts, encoding = _encode(np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight), compression)
        item = {"path": weight.path, "shape": list(weight.shape), "encoding": encoding, "files": {}}
        for part, array in parts.items():
            name = f"weights/{i:04d}_{part}.npy"
            files[name] = _npy_bytes(array)
            item["files"][part] = name
        manifest.append(item)
    files["weights.json"] = json.dumps(manifest).encode("utf-8")
    return files


def _write(path: Path, files: dict[str, bytes], card: ModelCard) -> ModelCard:
    """Seal ``files`` with ``card`` (content hash, manifest) and write the zip atomically."""
    files = {k: v for k, v in files.items() if k not in (integrity.CARD, integrity.MANIFEST, integrity.SIGNATURE)}
    files[MARKER] = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION}).encode()
    card.hash = integrity.content_hash(files, card)
    files[integrity.CARD] = card.to_json().encode("utf-8")
    files[integrity.MANIFEST] = integrity.manifest_bytes(files)
    # A model file is meant to be shared: 0644 whatever the umask.
    with atomic_path(path, mode=0o644, suffix=SUFFIX) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name in (MARKER, integrity.CARD, integrity.MANIFEST):
                zf.writestr(name, files[name])
            for name, data in files.items():
                if name not in (MARKER, integrity.CARD, integrity.MANIFEST):
                    zf.writestr(name, data)
    return card


def save_package(model, card: ModelCard, path: str | Path, compression: str = "float32",
                 extras: dict[str, bytes] | None = None) -> ModelCard:
    """Write ``model``, ``card`` and ``extras`` to ``path`` atomically; return the sealed card.

    The file appears only when complete, so a crash or a cancel never leaves a
    half-written model.
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}")
    card.compression = compression
    files = _model_files(model, compression)
    files.update({EXTRA_PREFIX + name: data for name, data in (extras or {}).items()})
    return _write(Path(path), files, card)


def rewrite_package(source: str | Path, path: str | Path, card: ModelCard,
                    extras: dict[str, bytes | None] | None = None) -> ModelCard:
    """Write the model of ``source`` with a new card (and extra files) to ``path``.

    The weights are copied byte for byte; the new card is sealed with its own content
    hash. ``extras`` None keeps the source's extra files; a dict replaces those it names
    (a value of None removes one). ``source`` may equal ``path``.
    """
    files = verified_files(Path(source))[1]
    for name, data in (extras or {}).items():
        files.pop(EXTRA_PREFIX + name, None)
        if data is not None:
            files[EXTRA_PREFIX + name] = data
    return _write(Path(path), files, card)


def update_card(path: str | Path, card: ModelCard) -> ModelCard:
    """Rewrite the card of the package at ``path`` (atomically); the card must come from it."""
    path = Path(path)
    if card.hash != read_card(path).hash:
        raise ModelPackageError(path, "card hash does not match the package contents")
    return rewrite_package(path, path, card)


def checked_files(path: str | Path, require_signature: bool | None = None) -> tuple[ModelCard, dict[str, bytes]]:
    """(card, files) of a package checked as :func:`load_package` checks it (integrity and
    signature), without building the model: the LiteRT runtime
    (:mod:`pneumonet_core.inference.litert_runtime`) needs no Keras."""
    path = Path(path)
    card, files = verified_files(path)
    signing.check_package(path, files, require=require_signature)
    return card, files


def load_package(path: str | Path, precision: str = "float32", require_signature: bool | None = None) -> ModelPackage:
    """Load and verify a package: the one model loader of Pneumonet.

    Checks, in order: the zip limits, the format, the integrity manifest and content hash,
    the signature (refused when one is required, see
    :func:`~pneumonet_core.models.signing.check_package`; ``require_signature`` None
    follows the settings), and the architecture's allow-list; only then is the model
    rebuilt, in Keras' safe mode. ``precision`` "bfloat16" builds it for mixed-bfloat16
    inference (see :mod:`pneumonet_core.runtime.precision`); the weights load as stored
    either way. Fails with :class:`ModelPackageError` (one line) on a missing, foreign,
    corrupt, tampered, unsigned-when-required or unsafe file.
    """
    path = Path(path)
    card, files = checked_files(path, require_signature)
    model = _model_from_architecture(path, files.pop("architecture.json"), precision)
    try:
        manifest = json.loads(files["weights.json"])
        if len(model.weights) != len(manifest):
            raise ModelPackageError(path, "weights do not match the architecture")
        # One weight at a time, each file dropped once assigned: the peak stays near the
        # size of the model itself instead of three copies of it.
        for variable, item in zip(model.weights, manifest):
            parts = {part: np.load(io.BytesIO(files.pop(name)), allow_pickle=False)
                     for part, name in item["files"].items()}
            value = _decode(parts, item["encoding"]).reshape(item["shape"])
            if tuple(variable.shape) != tuple(value.shape):
                raise ModelPackageError(path, f"weight {item['path']} has shape {value.shape}, "
                                              f"expected {tuple(variable.shape)}")
            variable.assign(value)
    except (KeyError, ValueError, TypeError, OSError, EOFError, AttributeError) as exc:
        raise ModelPackageError(path, f"corrupt model file ({type(exc).__name__}: {exc})") from None
    extras = {name[len(EXTRA_PREFIX):]: data for name, data in files.items() if name.startswith(EXTRA_PREFIX)}
    give_free_heap_back()  # the compressed weights and the building's leftovers are freed now
    return ModelPackage(model=model, card=card, path=path, extras=extras, precision=precision)


def _model_from_architecture(path: Path, architecture: bytes, precision: str = "float32"):
    """Rebuild the Keras model of ``architecture.json`` after checking its allow-list."""
    try:
        config = json.loads(architecture.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelPackageError(path, f"corrupt architecture ({exc})") from None
    try:
        check_architecture(config)
    except UnsafeArchitecture as exc:
        raise ModelPackageError(path, str(exc)) from None
    config.pop("compile_config", None)  # inference needs no optimizer, loss or metrics
    _zero_initializers(config)
    # Whatever precision a model trained in, it is rebuilt in float32, or in mixed
    # bfloat16 with float32 outputs when asked (the stored weights are float32 anyway).
    return _deserialize(path, json.loads(architecture_for_precision(json.dumps(config), precision)))


def _zero_initializers(node) -> None:
    """Build every weight as zeros: the stored weights overwrite them all (their count is checked).

    Drawing ResNet152V2's 58 M random initial values first costs time and, through the
    eager kernels and buffers it leaves behind, part of a batch run's 1.5 GB memory budget
    (tests/test_hardening_inputs.py).
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_initializer") and isinstance(value, dict):
                node[key] = {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                             "registered_name": None}
            else:
                _zero_initializers(value)
    elif isinstance(node, list):
        for value in node:
            _zero_initializers(value)


def _deserialize(path: Path, config: dict):
    import keras

    from pneumonet_core.models import layers  # noqa: F401  (registers the custom layers)

    version = tuple(int(p) for p in re.findall(r"\d+", keras.__version__)[:2])
    if version < MIN_KERAS:
        raise ModelPackageError(path, f"refused: Keras {keras.__version__} can run code from a crafted model file; "
                                      f"upgrade to Keras {'.'.join(map(str, MIN_KERAS))} or later")
    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover - a Keras without it still gets safe_mode below
        import contextlib

        SafeModeScope = lambda safe_mode=True: contextlib.nullcontext()  # noqa: E731
    try:
        # SafeModeScope(True) also overrides a process-wide enable_unsafe_deserialization().
        with SafeModeScope(True):
            return keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad config
        raise ModelPackageError(path, f"cannot rebuild the architecture ({type(exc).__name__}: "
                                      f"{' '.join(str(exc).split())[:300]})") from None
