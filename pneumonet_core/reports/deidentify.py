"""De-identification of exports, HIPAA Safe Harbor style, and hiding identifiers on screen.

A de-identified export (the default of every CSV, JSON and PDF Pneumonet writes) holds:

- no identifying metadata (:data:`~pneumonet_core.imaging.scan.IDENTIFYING_KEYS`: names,
  IDs, accession number, institution, addresses, birth date...); ages over 89 become
  "90+" and the study date keeps its year only;
- no absolute path: a file is shown relative to the folder it was found in
  (``ward7/day2/IM-1.dcm``), or by its name alone;
- no path component containing one of the scan's own identifying values in any usual
  form (see :mod:`~pneumonet_core.reports.identifiers`): the file name becomes
  ``anon-<content hash>``, a folder ``anon-<keyed hash>``, stable across runs;
- free text (warnings, errors) with those values replaced by ``[removed]``.

``include_identifiers`` / ``--include-identifiers`` is the explicit opt-in to keep them.
For the screen, :func:`screen_metadata` and :func:`screen_text` give the same protection
("Hide identifiers"). Burned-in text in the pixels is out of reach here and stays the
user's responsibility.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path, PurePath, PurePosixPath

from pneumonet_core.imaging.clinical_warnings import parse_dicom_age
from pneumonet_core.imaging.scan import IDENTIFYING_KEYS
from pneumonet_core.reports.identifiers import Identifiers
from pneumonet_core.results import ScanResult
from pneumonet_core.secret import keyed_digest

PSEUDONYM_PREFIX = "anon-"
REMOVED = "[removed]"
HIDDEN = "hidden"
#: Ages above this are reported as "90+" (Safe Harbor).
MAX_REPORTED_AGE = 89
_AGE_TEXT = re.compile(r"\b(\d+)\s+(year|month|week|day)s?\b", re.IGNORECASE)
_YEARS_PER = {"year": 1.0, "month": 1 / 12, "week": 7 / 365.25, "day": 1 / 365.25}
_ABSOLUTE = re.compile(r"(?:\b[A-Za-z]:)?(?<![\w.])[\\/](?:[^\s\\/'\"]+[\\/])+")


def identifiers(metadata: dict | None) -> Identifiers:
    """The identifying values of a scan's metadata, to find or remove in text."""
    return Identifiers.of(metadata)


def identifying_tokens(metadata: dict | None) -> list[str]:
    """Lower-case forms whose presence in a text would identify the patient."""
    return identifiers(metadata).tokens


def contains_identifier(text: str, found: Identifiers | list[str]) -> bool:
    """True when ``text`` contains an identifying value (``found`` from :func:`identifiers`)."""
    if not isinstance(found, Identifiers):
        found = Identifiers(frozenset(t for t in found if len(t) < 4), frozenset(t for t in found if len(t) >= 4))
    return found.found_in(text)


def pseudonym(text: str, file_hash: str | None = None) -> str:
    """``anon-`` and 16 hex digits: of the file's content hash when known, else a keyed hash of ``text``."""
    return PSEUDONYM_PREFIX + (file_hash or keyed_digest("pseudonym", text))[:16]


def safe_stem(path: str | Path, metadata: dict | None, deidentify: bool, file_hash: str | None = None) -> str:
    """The input file's stem, or its pseudonym when de-identifying and it names the patient."""
    stem = PurePath(str(path)).stem or "scan"
    if deidentify and identifiers(metadata).found_in(stem):
        return pseudonym(stem, file_hash)
    return stem


def display_paths(paths, inputs=None) -> dict[str, str]:
    """How default exports name each path: relative to the input folder it was found in,
    or the file name alone for files given directly.

    With several input folders, each path starts with its folder's name to keep them
    apart. Without ``inputs``, paths are named relative to the folder they all share
    (what the app's batch does with the folder it was given).
    """
    paths = [Path(p) for p in paths]
    if inputs is None:
        try:
            common = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else None
        except ValueError:  # relative and absolute, or different drives
            common = None
        inputs = [common] if common is not None else []
    roots = [Path(p) for p in inputs if Path(p).is_dir()]
    shown = {}
    for path in paths:
        shown[str(path)] = path.name
        for root in roots:
            try:
                relative = path.relative_to(root)
            except ValueError:
                continue
            shown[str(path)] = str(PurePosixPath(*((_folder_name(root),) if len(roots) > 1 else ()), *relative.parts))
            break
    return shown


def _folder_name(root: Path) -> str:
    if root.name and root.name not in (".", ".."):
        return root.name
    try:
        return root.resolve().name or "input"
    except OSError:
        return "input"


def report_path(path: str | Path, metadata: dict | None, deidentify: bool, file_hash: str | None = None,
                shown: str | None = None) -> str:
    """The path as an export shows it.

    With ``deidentify``: ``shown`` (the path relative to its input folder) or else the
    file name, never an absolute path, with any part naming the patient pseudonymised.
    Without: the path as given.
    """
    if not deidentify:
        return str(path)
    pure = PurePosixPath(*PurePath(shown or PurePath(str(path)).name).parts)
    parts = [part for part in pure.parts if part not in ("/", "\\") and not re.fullmatch(r"[A-Za-z]:\\?", part)]
    if not parts:
        return pseudonym(str(path), file_hash)
    found = identifiers(metadata)
    for i, part in enumerate(parts[:-1]):
        if found.found_in(part):
            parts[i] = pseudonym(part)[:17]
    name = PurePosixPath(parts[-1])
    if found.found_in(name.name):
        suffix = name.suffix if not found.found_in(name.suffix) else ""
        parts[-1] = pseudonym(name.stem, file_hash) + suffix
    return str(PurePosixPath(*parts))


def generalise_age(value: str | None) -> str | None:
    """A DICOM age ("095Y", "1100M") as "90+" when over 89 years; others unchanged."""
    parsed = parse_dicom_age(value) if value else None
    if parsed is not None and parsed[0] >= MAX_REPORTED_AGE + 1:
        return f"{MAX_REPORTED_AGE + 1}+"
    return value


def scrub_metadata(metadata: dict | None, deidentify: bool) -> dict:
    """The metadata to export: identifying keys left out, ages over 89 as 90+, dates as years."""
    metadata = dict(metadata or {})
    if not deidentify:
        return metadata
    for key in IDENTIFYING_KEYS:
        metadata.pop(key, None)
    if metadata.get("patient_age"):
        metadata["patient_age"] = generalise_age(metadata["patient_age"])
    for key in [k for k in metadata if k.endswith("_date") and metadata[k]]:
        year = re.match(r"\d{4}", str(metadata[key]))
        metadata[key] = year.group(0) if year else None
    return metadata


def _generalise_age_text(text: str) -> str:
    def replace(match: re.Match) -> str:
        years = int(match.group(1)) * _YEARS_PER[match.group(2).lower()]
        return f"{MAX_REPORTED_AGE + 1}+ years" if years >= MAX_REPORTED_AGE + 1 else match.group(0)

    return _AGE_TEXT.sub(replace, text)


def scrub_text(text: str, metadata: dict | None, deidentify: bool) -> str:
    """Free text (a warning, an error) without identifying values, folders or ages over 89."""
    if not deidentify or not text:
        return text
    text = _ABSOLUTE.sub("", text)
    return _generalise_age_text(identifiers(metadata).scrub(text, REMOVED))


def deidentified(result: ScanResult, deidentify: bool = True) -> ScanResult:
    """A copy of ``result`` fit for a de-identified export (the same object when not)."""
    if not deidentify:
        return result
    md = result.metadata
    return dataclasses.replace(
        result,
        path=report_path(result.path, md, True, result.file_sha256, result.display_path),
        warnings=[scrub_text(w, md, True) for w in result.warnings],
        error=scrub_text(result.error, md, True) if result.error else result.error,
        metadata=scrub_metadata(md, True),
        display_path=None,
    )


def screen_metadata(metadata: dict | None, hide: bool) -> dict:
    """Metadata for display: with ``hide``, every identifying value reads ``hidden``."""
    metadata = dict(metadata or {})
    if hide:
        for key in IDENTIFYING_KEYS:
            if metadata.get(key) not in (None, ""):
                metadata[key] = HIDDEN
        if metadata.get("patient_age"):
            metadata["patient_age"] = generalise_age(metadata["patient_age"])
    return metadata


def screen_text(text: str, metadata: dict | None, hide: bool, path: str | os.PathLike | None = None,
                file_hash: str | None = None) -> str:
    """A window title or status-bar text: with ``hide``, the scan's path becomes its
    de-identified name and identifying values become ``hidden``."""
    if not hide or not text:
        return text
    if path is not None:
        text = text.replace(str(path), report_path(path, metadata, True, file_hash))
        text = text.replace(Path(path).name, report_path(path, metadata, True, file_hash))
    return _generalise_age_text(identifiers(metadata).scrub(_ABSOLUTE.sub("", text), HIDDEN))
