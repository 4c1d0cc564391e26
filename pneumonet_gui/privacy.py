""""Hide identifiers" on screen: what the window title, status bar, overlays, metadata and
recent-files menu may show of a scan's patient.

The one de-identifier is :mod:`pneumonet_core.reports.deidentify`: with hiding on,
identifying metadata reads ``hidden`` and ages over 89 read "90+"
(:func:`~pneumonet_core.reports.deidentify.screen_metadata`), a title or status text
loses its absolute paths and identifying values
(:func:`~pneumonet_core.reports.deidentify.screen_text`), and a file name that contains
the patient's name, ID or birth date, or any other, becomes its pseudonym (the one the
reports use). This module only adds what the screen needs on top: a file name on its own, and a
stand-in for a scan whose identifiers are not known yet.
"""

from __future__ import annotations

from pathlib import PurePath

from pneumonet_core.reports.deidentify import (
    HIDDEN,
    contains_identifier,
    identifying_tokens,
    report_path,
    screen_metadata,
    screen_text,
)

__all__ = ["HIDDEN", "UNKNOWN_SCAN", "names_patient", "screen_metadata", "screen_name", "screen_text"]

#: What stands for a scan whose identifiers are not known yet (it is still being opened):
#: before a scan is decoded nothing of its path is shown at all.
UNKNOWN_SCAN = "a scan"


def names_patient(path, metadata: dict | None) -> bool:
    """True when the path (file or folder names) contains one of the scan's identifiers."""
    return contains_identifier(str(path), identifying_tokens(metadata))


def screen_name(path, metadata: dict | None, hide: bool) -> str:
    """The file name to show: as it is, or its pseudonym when hiding (as a de-identified export names it)."""
    name = PurePath(str(path)).name
    # The whole path keys the pseudonym, as in screen_text: one scan, one name on screen.
    return PurePath(report_path(path, metadata, True)).name if hide else name
