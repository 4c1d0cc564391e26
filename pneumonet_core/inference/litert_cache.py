"""Where a package's LiteRT graph comes from, and why it can be trusted.

A package does not carry its LiteRT graph (a second copy of ResNet152V2's weights would
not fit the 60 MB a bundled package may weigh): the graph is *derived* from the verified
package (:mod:`.litert_export`, TensorFlow, once per package and machine) and kept under
the package's content hash, so a new or changed package always gets its own graph and a
graph never outlives the package that vouches for it. A graph is loaded only when one of
these vouches for it:

- **the app bundle**: ``resources/litert/index.json`` lists, per graph key, the SHA-256
  of the graph file and its metadata; ``tools/derive_litert.py`` writes both at build time
  (``tools/build_app.sh``), from the bundled packages, so the packaged app shows a result
  without TensorFlow. The index is as trustworthy as the app's own code beside it.
- **the local cache** (``$PNEUMONET_HOME/cache/litert``): each graph has a ``.json`` with its
  metadata and an HMAC-SHA256 under the installation's secret (:mod:`pneumonet_core.secret`)
  over the key, the graph's digest and the metadata; a file copied in, edited, or made for
  another package fails the check and is derived again.

The key is ``<card.hash>.<variant>.v<GRAPH_VERSION>``: the content hash covers the
architecture, the weights and the answer-changing card fields (threshold, calibration,
guard), and the card hash comes from :func:`~pneumonet_core.models.package.checked_files`,
which has checked the whole package (and its signature when one is required) first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from pneumonet_core.atomic import write_bytes_atomic
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.settings import user_home

#: Purpose label of the cache's keyed digests (see :func:`pneumonet_core.secret.keyed_digest`).
PURPOSE = "litert-graph"
BUNDLE_INDEX = "index.json"


def graph_key(card_hash: str, variant: str) -> str:
    from pneumonet_core.inference.litert_export import GRAPH_VERSION

    return f"{card_hash}.{variant}.v{GRAPH_VERSION}"


def cache_dir() -> Path:
    return user_home() / "cache" / "litert"


def bundle_dir() -> Path:
    """The graphs derived at build time, beside the bundled models (``resources/litert``)."""
    from pneumonet_core.models.registry import resources_dir

    return resources_dir() / "litert"


def _canonical(meta: dict) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()


def _seal(key: str, data: bytes, meta: dict) -> str:
    from pneumonet_core.secret import keyed_digest

    return keyed_digest(PURPOSE, key.encode() + b"\0" + hashlib.sha256(data).digest() + b"\0" + _canonical(meta))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def from_bundle(key: str, folder: Path | None = None) -> tuple[bytes, dict] | None:
    """(graph, metadata) derived at build time for ``key``, when the bundle's index lists it unchanged."""
    folder = folder or bundle_dir()
    raw = _read(folder / BUNDLE_INDEX)
    try:
        entry = json.loads(raw)["graphs"][key] if raw else None
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(entry, dict):
        return None
    data = _read(folder / f"{key}.tflite")
    if data is None or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        return None
    return data, entry.get("meta") or {}


def from_cache(key: str) -> tuple[bytes, dict] | None:
    """(graph, metadata) from the local cache when its seal checks out, else None."""
    folder = cache_dir()
    data, raw = _read(folder / f"{key}.tflite"), _read(folder / f"{key}.json")
    if data is None or raw is None:
        return None
    try:
        sidecar = json.loads(raw)
        meta, seal = sidecar["meta"], sidecar["mac"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(meta, dict) or not isinstance(seal, str) or not hmac.compare_digest(seal, _seal(key, data, meta)):
        return None
    return data, meta


def store(key: str, data: bytes, meta: dict) -> None:
    """Keep a derived graph in the local cache, sealed; a cache that cannot be written is skipped."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(folder / f"{key}.tflite", data)
        write_bytes_atomic(folder / f"{key}.json", json.dumps({"meta": meta, "mac": _seal(key, data, meta)}).encode())
    except OSError:
        pass  # a read-only home: derived again next time, still correct


def derive(path: Path, variant: str, require_signature: bool | None = None, representative=None) -> tuple[bytes, dict]:
    """Derive ``path``'s graph with TensorFlow (:mod:`.litert_export`); fails in one line without it."""
    try:
        from pneumonet_core.inference.litert_export import convert
        from pneumonet_core.models.architectures import ARCHITECTURES
        from pneumonet_core.models.package import load_package

        package = load_package(path, require_signature=require_signature)
    except ImportError as exc:
        raise ModelPackageError(path, f"no LiteRT graph for this model and no TensorFlow to derive one ({exc})") from None
    import contextlib
    import io

    architecture = ARCHITECTURES[package.card.backbone]
    # The converter prints where it saved its intermediate model: stdout is the CLI's JSON.
    with contextlib.redirect_stdout(io.StringIO()):
        return convert(package, architecture.gradcam_layer, variant, representative)


def graph_for(path: Path, card_hash: str, variant: str, require_signature: bool | None = None) -> tuple[bytes, dict, str]:
    """(graph, metadata, where it came from: "bundle", "cache" or "derived") for a verified package."""
    key = graph_key(card_hash, variant)
    found = from_bundle(key)
    if found is not None:
        return (*found, "bundle")
    found = from_cache(key)
    if found is not None:
        return (*found, "cache")
    data, meta = derive(path, variant, require_signature)
    store(key, data, meta)
    return data, meta, "derived"


def write_bundle(paths: list[Path], folder: Path, variant: str) -> list[str]:
    """Derive the graphs of ``paths`` into ``folder`` with its index (build time); return their keys."""
    from pneumonet_core.models.package import read_card

    folder.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict] = {"graphs": {}}
    for path in paths:
        key = graph_key(read_card(path).hash, variant)
        data, meta = derive(Path(path), variant)
        write_bytes_atomic(folder / f"{key}.tflite", data)
        index["graphs"][key] = {"sha256": hashlib.sha256(data).hexdigest(), "meta": meta, "package": Path(path).name}
    write_bytes_atomic(folder / BUNDLE_INDEX, json.dumps(index, indent=1, sort_keys=True).encode())
    return list(index["graphs"])


def describe(card_hash: str, variant: str | None = None) -> dict:
    """How this machine runs a package (for ``pneumonet info`` and the card page), without deriving.

    ``graph``: "bundle", "cache" or "not derived yet (on first use)"; ``heat_map``: CAM from
    the one pass when every head is pooling + dense (then equal to Grad-CAM), else TensorFlow's
    gradient Grad-CAM for the map.
    """
    from pneumonet_core.inference.litert_export import DEFAULT_VARIANT

    variant = variant or DEFAULT_VARIANT
    key = graph_key(card_hash, variant)
    found, where = from_bundle(key), "bundle"
    if found is None:
        found, where = from_cache(key), "cache"
    if found is None:
        return {"runtime": "litert", "variant": variant, "graph": "not derived yet (on first use)",
                "heat_map": "decided when the graph is derived"}
    heads = found[1].get("heads") or []
    cam = bool(heads) and all(h.get("cam") for h in heads)
    return {"runtime": "litert", "variant": variant, "graph": where,
            "heat_map": ("CAM from the one LiteRT pass (equal to Grad-CAM for this pooling + dense head)" if cam else
                         "Grad-CAM through TensorFlow (this head is not pooling + dense, so CAM would differ)")}
