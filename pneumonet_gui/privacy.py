""""Hide identifiers" on screen: what the window title, status bar, overlays, metadata and
recent-files menu may show of a scan's patient.

With hiding on, identifying metadata reads ``hidden``, a file or folder name that
contains the patient's name, ID or birth date becomes its de-identified form (the same
one the de-identified reports use), and free text loses those values. Before a scan is
decoded its identifiers are unknown, so nothing of its path is shown at all. Plain
Python over :mod:`pneumonet_core.reports.deidentify`.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from pneumonet_core.imaging.scan import IDENTIFYING_KEYS
from pneumonet_core.reports.deidentify import (
    contains_identifier,
    identifying_tokens,
    report_path,
    scrub_text,
)

HIDDEN = "hidden"
#: What stands for a scan whose identifiers are not known yet (it is still being opened).
UNKNOWN_SCAN = "a scan"


def names_patient(path, metadata: dict | None) -> bool:
    """True when the path (file or folder names) contains one of the scan's identifiers."""
    return contains_identifier(str(path), identifying_tokens(metadata))


def screen_name(path, metadata: dict | None, hide: bool) -> str:
    """The file name to show: as it is, or de-identified when hiding and it names the patient."""
    name = PurePath(str(path)).name
    if hide and contains_identifier(name, identifying_tokens(metadata)):
        return PurePath(report_path(name, metadata, True)).name
    return name


def screen_path(path, metadata: dict | None, hide: bool) -> str:
    """The full path to show: folders and a file name that name the patient are de-identified."""
    return report_path(path, metadata, True) if hide else str(path)


def screen_text(text: str, metadata: dict | None, hide: bool, path=None) -> str:
    """A title or status text with the scan's path and identifying values removed when hiding."""
    if not hide or not text:
        return text
    if path is not None:
        text = text.replace(str(path), screen_path(path, metadata, True))
        text = text.replace(Path(str(path)).name, screen_name(path, metadata, True))
    return scrub_text(text, metadata, True)


def screen_metadata(metadata: dict | None, hide: bool) -> dict:
    """The metadata to show: identifying values read ``hidden`` when hiding."""
    shown = dict(metadata or {})
    if hide:
        for key in IDENTIFYING_KEYS:
            if shown.get(key) not in (None, ""):
                shown[key] = HIDDEN
    return shown
