"""De-identification of outputs: no patient name, ID or birth date in any report or file name.

Metadata keys listed in ``IDENTIFYING_KEYS`` are dropped, and file or folder names that
contain the patient's name, ID or birth date (DICOM files are often named after the
patient) are replaced by a hash, so a de-identified export can leave the hospital.
Burned-in text in the pixels is out of reach here and stays the user's responsibility.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path, PurePath

from pneumonet_core.imaging.scan import IDENTIFYING_KEYS
from pneumonet_core.results import ScanResult

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Name parts shorter than this are matched as whole words only ("Li" must not match "clinic").
_SUBSTRING_MIN = 4


def identifying_tokens(metadata: dict | None) -> list[str]:
    """Lower-case strings whose presence in a text would identify the patient."""
    metadata = metadata or {}
    tokens: set[str] = set()
    name = metadata.get("patient_name")
    if name:
        tokens.update(t for t in _WORD.findall(str(name).lower()) if len(t) >= 2)
    patient_id = str(metadata.get("patient_id") or "").strip().lower()
    if len(patient_id) >= 3:
        tokens.add(patient_id)
        tokens.update(t for t in _WORD.findall(patient_id) if len(t) >= 3)
    birth = re.sub(r"\D", "", str(metadata.get("patient_birth_date") or ""))
    if len(birth) == 8:
        tokens.update({birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", f"{birth[:4]}.{birth[4:6]}.{birth[6:]}"})
    return sorted(tokens)


def contains_identifier(text: str, tokens: list[str]) -> bool:
    """True when ``text`` contains one of ``tokens`` (short ones as whole words only)."""
    if not tokens:
        return False
    low = text.lower()
    words = set(_WORD.findall(low))
    return any(t in low if len(t) >= _SUBSTRING_MIN or not t.isalnum() else t in words for t in tokens)


def _short_hash(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def safe_stem(path: str | Path, metadata: dict | None, deidentify: bool, file_hash: str | None = None) -> str:
    """The input file's stem, or ``anon-<hash>`` when de-identifying and it names the patient.

    The hash is of the file's content when known (it cannot be guessed from a list of
    names), else of the name itself.
    """
    stem = PurePath(str(path)).stem or "scan"
    if deidentify and contains_identifier(stem, identifying_tokens(metadata)):
        return f"anon-{(file_hash or _short_hash(stem))[:16]}"
    return stem


def report_path(path: str | Path, metadata: dict | None, deidentify: bool, file_hash: str | None = None) -> str:
    """The path as reports show it: folders or a file name naming the patient are hashed."""
    text = str(path)
    tokens = identifying_tokens(metadata) if deidentify else []
    if not contains_identifier(text, tokens):
        return text
    pure = PurePath(text)
    parts = list(pure.parts)
    for i, part in enumerate(parts[:-1]):
        if contains_identifier(part, tokens):
            parts[i] = f"anon-{_short_hash(part, 12)}"
    parts[-1] = safe_stem(pure.name, metadata, True, file_hash) + pure.suffix
    return str(type(pure)(*parts))


def scrub_metadata(metadata: dict | None, deidentify: bool) -> dict:
    """The metadata to report: identifying keys left out when de-identifying."""
    metadata = dict(metadata or {})
    if deidentify:
        for key in IDENTIFYING_KEYS:
            metadata.pop(key, None)
    return metadata


def scrub_text(text: str, metadata: dict | None, deidentify: bool) -> str:
    """Free text (a warning, an error) with any patient identifier replaced by ``[removed]``."""
    if not deidentify or not text:
        return text
    out = text
    for token in sorted(identifying_tokens(metadata), key=len, reverse=True):
        if len(token) >= _SUBSTRING_MIN or not token.isalnum():
            out = re.sub(re.escape(token), "[removed]", out, flags=re.IGNORECASE)
        else:
            out = re.sub(rf"(?<![^\W_]){re.escape(token)}(?![^\W_])", "[removed]", out, flags=re.IGNORECASE)
    return out


def deidentified(result: ScanResult, deidentify: bool = True) -> ScanResult:
    """A copy of ``result`` fit for a de-identified report (the same object when not)."""
    if not deidentify:
        return result
    md = result.metadata
    return dataclasses.replace(
        result,
        path=report_path(result.path, md, True, result.file_sha256),
        warnings=[scrub_text(w, md, True) for w in result.warnings],
        error=scrub_text(result.error, md, True) if result.error else result.error,
        metadata=scrub_metadata(md, True),
    )
