"""File > Export report: the PDF of the scan on screen (``pneumonet_core.reports.study_pdf``).

It is de-identified unless the user ticks "Include patient identifiers" in the save dialog
(unticked each time it opens), or a caller passes ``include_identifiers``. The report
prints the heat map the viewer may show, no more; a withheld result has no report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from pneumonet_gui.viewer_controller import OpenScan


@dataclass(frozen=True)
class ExportOutcome:
    """Where the report went, or the line that says why there is none (``error``: it failed)."""

    path: Path | None = None
    message: str = ""
    error: bool = False


def export_study_report(parent: QWidget, current: OpenScan, heatmap_allowed: bool, card, measurement_rows,
                        path=None, include_identifiers: bool = False) -> ExportOutcome:
    """Write the report of ``current``; ask where (and whether with identifiers) when ``path`` is None."""
    try:
        from pneumonet_core.reports import study_pdf
    except ImportError:  # a build without the PDF libraries
        return ExportOutcome(message="Export report is not available in this build.")
    if not current.ok:
        return ExportOutcome(message="Open a scan and wait for its result before exporting a report.")
    if current.result.withheld:
        return ExportOutcome(message="The result is withheld for this scan (not a chest X-ray this model knows): "
                                     "there is no report to export.")
    if path is None:
        from pneumonet_gui.export_dialog import ExportDialog

        suggested = Path(study_pdf.study_report_name(current.scan, True))
        dialog = ExportDialog("pdf", suggested, parent, title="Export report")
        if not dialog.exec():
            return ExportOutcome()
        path, include_identifiers = dialog.path, dialog.include_identifiers
    note = None if heatmap_allowed or current.heatmap is None else "Heat map not shown for a NORMAL decision"
    try:
        out = study_pdf.write_study_report(Path(path), scan=current.scan, result=current.result,
                                           heatmap=current.heatmap if heatmap_allowed else None, card=card,
                                           deidentify=not include_identifiers, measurements=measurement_rows,
                                           heatmap_note=note)
    except Exception as exc:  # noqa: BLE001 - any failure of the PDF writer is shown, not raised into Qt
        return ExportOutcome(message=f"Could not write the report: {exc}", error=True)
    return ExportOutcome(path=Path(out or path))
