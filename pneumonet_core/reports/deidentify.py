"""De-identification of exports, HIPAA Safe Harbor style, and hiding identifiers on screen.

A de-identified export (the default of every CSV, JSON and PDF Pneumonet writes) holds:

- no identifying metadata (:data:`~pneumonet_core.imaging.scan.IDENTIFYING_KEYS`: names,
  IDs, accession number, institution, addresses, birth date...); ages over 89 in any
  notation ("095Y", "095", "95 YEARS", "1200M") become "90+", an age that cannot be read
  is left out, and the study date keeps its year only;
- no path component at all: a rule that looks for the patient's name in a file name
  cannot know every form people write (ASCII spellings, MRN variants, dates, folders
  named after other patients, files whose header cannot be read), so every file is named
  by a pseudonym, ``anon-`` and 16 hex digits of an HMAC of its content hash (of its
  path when it could not be read) under the installation's key
  (:mod:`pneumonet_core.secret`, ``$PNEUMONET_HOME/secret.key``, never exported). The
  same file gets the same name in every export of this installation (CSV, JSON, PDF,
  heat maps, DICOM answers' file names), so they can be joined and resumed; a run with
  ``--include-identifiers`` maps names back. Only a known image suffix is kept;
- free text (warnings, errors) with the scan's values, its file and folder names and
  absolute paths replaced by ``[removed]`` or the pseudonym.

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
#: An age in any usual notation: "095Y", "095", "95 YEARS", "1200M", "30 d", "12 mo".
_ANY_AGE = re.compile(r"^\s*(\d{1,6})\s*(y|yrs?|years?|m|mo|mos|months?|w|wks?|weeks?|d|days?)?\.?\s*$", re.IGNORECASE)
#: File suffixes kept on a pseudonym: they say what the file is, nothing about whom.
_KEPT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".dic"})
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
    """``anon-`` and 16 hex digits of a keyed hash (the local key) of the file's content hash
    when known, else of ``text``: stable on this installation, not reversible without its key."""
    return PSEUDONYM_PREFIX + keyed_digest("pseudonym", file_hash or text)[:16]


def safe_stem(path: str | Path, metadata: dict | None, deidentify: bool, file_hash: str | None = None) -> str:
    """The input file's stem, or, de-identifying, its pseudonym (whatever the name says)."""
    if deidentify:
        return pseudonym(str(path), file_hash)
    return PurePath(str(path)).stem or "scan"


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


def report_path(path: str | os.PathLike, metadata: dict | None, deidentify: bool, file_hash: str | None = None,
                shown: str | None = None) -> str:
    """The path as an export shows it.

    With ``deidentify``: the file's pseudonym and its image suffix, no folder, no name
    (``metadata`` is no longer needed; kept for the callers). ``shown`` (the path relative
    to its input folder) keys the pseudonym of a file without a content hash. Without:
    the path as given.
    """
    if not deidentify:
        return str(path)
    suffix = PurePath(str(path)).suffix.lower()
    return pseudonym(str(shown or path), file_hash) + (suffix if suffix in _KEPT_SUFFIXES else "")


def age_in_years(value: str | None) -> float | None:
    """An age in years from a DICOM age string or any usual notation ("095", "95 YEARS", "1200M")."""
    parsed = parse_dicom_age(value) if value else None
    if parsed is not None:
        return parsed[0]
    match = _ANY_AGE.match(str(value or ""))
    if not match:
        return None
    unit = (match.group(2) or "y").lower()
    per = _YEARS_PER["month" if unit.startswith("m") else {"y": "year", "w": "week", "d": "day"}[unit[0]]]
    return int(match.group(1)) * per


def generalise_age(value: str | None) -> str | None:
    """An age as "90+" when over 89 years in any notation; an age that cannot be read is left
    out (None), since its meaning, and so whether it identifies, is unknown; others unchanged."""
    if value in (None, ""):
        return value
    years = age_in_years(value)
    if years is None:
        return f"{MAX_REPORTED_AGE + 1}+" if any(int(n) > MAX_REPORTED_AGE for n in re.findall(r"\d+", str(value))) \
            else None
    return f"{MAX_REPORTED_AGE + 1}+" if years >= MAX_REPORTED_AGE + 1 else value


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
    age = str((metadata or {}).get("patient_age") or "")
    if age.strip() and generalise_age(age) != age:  # the raw value quoted in a warning ("'095' could not be read")
        text = text.replace(age, generalise_age(age) or REMOVED)
    return _generalise_age_text(identifiers(metadata).scrub(text, REMOVED))


def deidentified(result: ScanResult, deidentify: bool = True) -> ScanResult:
    """A copy of ``result`` fit for a de-identified export (the same object when not)."""
    if not deidentify:
        return result
    md = result.metadata
    name = report_path(result.path, md, True, result.file_sha256, result.display_path)

    def scrub(text: str) -> str:  # the file's own path and names may appear in a message
        # The paths, the file's name and stem; not its folders' names alone, which may be
        # ordinary words ("CHEST") that a warning uses too, nor a stem that is one lowercase
        # word ("empty.png": "empty file" is the message, not the name).
        original = PurePath(str(result.path))
        parts = {str(result.path), str(result.display_path or ""), original.name}
        if not re.fullmatch(r"[a-z]+", original.stem):
            parts.add(original.stem)
        for part in sorted((p for p in parts if len(p.strip("/\\.")) >= 4), key=len, reverse=True):
            text = re.sub(rf"(?<![^\W_]){re.escape(part)}(?![^\W_])", name, text)
        return scrub_text(text, md, True)

    return dataclasses.replace(
        result,
        path=Path(name),
        warnings=[scrub(w) for w in result.warnings],
        error=scrub(result.error) if result.error else result.error,
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
