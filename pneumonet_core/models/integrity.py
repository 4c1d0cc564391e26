"""What makes a model package trustworthy: a content hash over everything that changes an
answer, and a manifest of every file's digest.

``card.hash`` (the model's identity, shown everywhere and stored with every result) covers
the architecture, the weights, the extra files (calibration data, out-of-distribution
reference) and every card field that changes an answer (:data:`DECISION_FIELDS`). The
manifest ``integrity.json`` lists the SHA-256 of every other file, the card included, so
editing any byte of a package, a note in the card or a threshold, is refused on load.
"""

from __future__ import annotations

import hashlib
import json
import math

from pneumonet_core.models.card import ModelCard

MANIFEST = "integrity.json"
SIGNATURE = "signature.json"
CARD = "card.json"
#: Card fields that change what a model answers; they are part of the content hash.
DECISION_FIELDS = ("approach", "backbone", "class_names", "input", "threshold", "calibration", "ood")
#: Files that are not covered by the manifest: the manifest itself and its signature.
_UNLISTED = (MANIFEST, SIGNATURE)


class IntegrityError(Exception):
    """The package's contents do not match its manifest or its content hash (one-line reason)."""


def decision_record(card: ModelCard) -> bytes:
    """The card's answer-changing fields as canonical JSON bytes."""
    record = {key: getattr(card, key) for key in DECISION_FIELDS}
    if card.uncertain_band:  # answer-changing too; absent when empty, so older packages keep their hash
        record["uncertain_band"] = card.uncertain_band
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=True, default=str).encode()


def content_hash(files: dict[str, bytes], card: ModelCard) -> str:
    """SHA-256 over every file but the card and manifest, in name order, and the decision fields."""
    digest = hashlib.sha256()
    for name in sorted(files):
        if name in _UNLISTED or name == CARD:
            continue
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    digest.update(b"decision\0" + decision_record(card))
    return digest.hexdigest()


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """``integrity.json`` for ``files`` (every file but the manifest and the signature)."""
    listed = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items()) if name not in _UNLISTED}
    return json.dumps({"algorithm": "sha256", "files": listed}, indent=1, sort_keys=True).encode()


def verify(files: dict[str, bytes]) -> ModelCard:
    """Check a package's files against its manifest and its card's content hash; return the card.

    Raises :class:`IntegrityError` naming what does not match.
    """
    if MANIFEST not in files:
        raise IntegrityError("no integrity manifest (made by an older Pneumonet, or altered)")
    try:
        listed = json.loads(files[MANIFEST])["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"unreadable integrity manifest ({exc})") from None
    present = {name for name in files if name not in _UNLISTED}
    if missing := sorted(set(listed) - present):
        raise IntegrityError(f"file {missing[0]} listed in the manifest is missing")
    if unlisted := sorted(present - set(listed)):
        raise IntegrityError(f"file {unlisted[0]} is not in the integrity manifest")
    for name in sorted(listed):
        if hashlib.sha256(files[name]).hexdigest() != listed[name]:
            what = "the model card was edited" if name == CARD else f"{name} was modified"
            raise IntegrityError(f"integrity check failed: {what}")
    card = card_from_bytes(files[CARD])
    if content_hash(files, card) != card.hash:
        raise IntegrityError("content hash mismatch: the file was modified or damaged")
    from pneumonet_core.models.card_validation import CardError, validate_card

    try:  # sealed is not sensible: anyone can seal a package (see card_validation)
        validate_card(card, files)
    except CardError as exc:
        raise IntegrityError(f"refused: model card: {exc}") from None
    return card


def card_from_bytes(data: bytes) -> ModelCard:
    """Parse and type-check ``card.json``; raise :class:`IntegrityError` with the first bad field."""
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise IntegrityError(f"corrupt model card ({exc})") from None
    if not isinstance(raw, dict):
        raise IntegrityError("corrupt model card (not a JSON object)")
    defaults = ModelCard()
    for key, value in raw.items():
        expected = getattr(defaults, key, None)
        if key not in ModelCard.__dataclass_fields__ or expected is None:
            continue
        kind = (int, float) if isinstance(expected, float) else type(expected)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise IntegrityError(f"model card field {key!r} has the wrong type ({type(value).__name__})")
    card = ModelCard.from_dict(raw)
    if not (math.isfinite(card.threshold) and 0.0 <= card.threshold <= 1.0):
        raise IntegrityError(f"model card threshold {card.threshold!r} is not a probability")
    if not card.class_names or not all(isinstance(c, str) for c in card.class_names):
        raise IntegrityError("model card class_names must be a list of names")
    return card
