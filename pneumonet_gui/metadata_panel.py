"""The scan's DICOM metadata and how its pixels were decoded, with patient identifiers
hideable on screen (for teaching, screen sharing, screenshots).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.imaging.clinical_warnings import AGE_FROM_DATES, with_age
from pneumonet_core.imaging.scan import METADATA_KEYS, METADATA_TITLES
from pneumonet_core.reports.wording import readable
from pneumonet_gui import theme
from pneumonet_gui.measurements import Calibration
from pneumonet_gui.privacy import HIDDEN, screen_metadata, screen_name


def metadata_rows(scan, hide_identifiers: bool, header=None) -> list[tuple[str, str, str]]:
    """(section, label, value) rows for a scan; identifying values become ``hidden``.

    ``header`` (a :class:`~pneumonet_core.imaging.dicom_display.DisplayHeader`) adds the
    study and series descriptions and the pixel spacing measurements use.
    """
    rows = []
    metadata = with_age(scan.metadata or {})  # the age the banner's warning states, from the dates if need be
    derived = metadata.get("patient_age") != (scan.metadata or {}).get("patient_age")
    shown_metadata = screen_metadata(metadata, hide_identifiers)
    keys = list(METADATA_KEYS) + [k for k in metadata if k not in METADATA_KEYS]
    if not any(metadata.get(key) not in (None, "") for key in keys):
        keys = []  # PNG and JPEG files carry none: one line says so instead of ten dashes
        rows.append(("Patient and study", "Metadata", f"none in this {scan.source.format} file"))
    for key in keys:
        value = shown_metadata.get(key)
        shown = "\u2014" if value in (None, "") else str(value if value == HIDDEN else readable(key, value))
        if key == "patient_age" and derived and shown != "\u2014":
            shown += f" ({AGE_FROM_DATES})"
        rows.append(("Patient and study", METADATA_TITLES.get(key, key.replace("_", " ").capitalize()), shown))
    source = scan.source
    height, width = scan.pixels.shape
    image = [
        ("File", screen_name(scan.path, metadata, hide_identifiers)),
        ("Format", source.format),
        ("Size", f"{width} \u00d7 {height} px"),
        ("Photometric", source.photometric + (" (inverted for display)" if source.inverted else "")),
        ("Bits stored", "\u2014" if source.bits_stored is None else str(source.bits_stored)),
    ]
    if source.transfer_syntax:  # DICOM only
        image.append(("Transfer syntax", source.transfer_syntax))
    if source.frames != 1:
        image.append(("Frames", f"{source.frames} (the first is classified)"))
    if header is not None:
        for label, value in (("Study", header.study_description), ("Series", header.series_description)):
            if value:
                image.append((label, value))
        image.append(("Measurements", Calibration(header.pixel_spacing, header.spacing_source).describe()))
    if scan.default_window is not None:
        centre, w = scan.default_window
        image.append(("File window", f"C {centre:g} / W {w:g}"))
    rows += [("Image", label, value) for label, value in image]
    return rows


class MetadataPanel(QWidget):
    """A two-column table of the scan's metadata and source, with a hide-identifiers switch."""

    hideIdentifiersChanged = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scan = None
        self._header = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        self.hide_identifiers = QCheckBox("Hide patient identifiers")
        self.hide_identifiers.setToolTip("Hide the patient's name, ID and birth date everywhere on screen: here, "
                                         "the title, the status bar, the corners of the scan and recent files")
        self.hide_identifiers.toggled.connect(self._on_hide_toggled)
        self.table = QTableWidget(0, 2)
        self.table.horizontalHeader().hide()
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(22)
        layout.addWidget(self.hide_identifiers)
        layout.addWidget(self.table, 1)

    def set_scan(self, scan, header=None) -> None:
        self._scan, self._header = scan, header
        self._fill()

    def clear(self) -> None:
        self._scan = self._header = None
        self.table.setRowCount(0)

    def rows(self) -> list[tuple[str, str, str]]:
        if self._scan is None:
            return []
        return metadata_rows(self._scan, self.hide_identifiers.isChecked(), self._header)

    def shown_values(self) -> dict[str, str]:
        """Label -> value as displayed in the table (what a person sees)."""
        shown = {}
        for row in range(self.table.rowCount()):
            label, value = self.table.item(row, 0), self.table.item(row, 1)
            if label is not None and value is not None:
                shown[label.text()] = value.text()
        return shown

    def identifiers_hidden(self) -> bool:
        """True while "Hide patient identifiers" is ticked (the rest of the window follows it)."""
        return self.hide_identifiers.isChecked()

    def _on_hide_toggled(self, hide: bool) -> None:
        self._fill()
        self.hideIdentifiersChanged.emit(hide)

    def _fill(self) -> None:
        self.table.setRowCount(0)
        if self._scan is None:
            return
        section_font = QFont(self.font())
        section_font.setBold(True)
        current = None
        for section, label, value in self.rows():
            if section != current:
                current = section
                row = self.table.rowCount()
                self.table.insertRow(row)
                header = QTableWidgetItem(section.upper())
                header.setFont(section_font)
                header.setForeground(QColor(theme.MUTED))
                self.table.setItem(row, 0, header)
                self.table.setSpan(row, 0, 1, 2)
            row = self.table.rowCount()
            self.table.insertRow(row)
            key_item = QTableWidgetItem(label)
            key_item.setForeground(QColor(theme.MUTED))
            value_item = QTableWidgetItem(value)
            value_item.setToolTip(value)
            if value == HIDDEN:
                value_item.setForeground(QColor(theme.MUTED))
                italic = QFont(self.font())
                italic.setItalic(True)
                value_item.setFont(italic)
            self.table.setItem(row, 0, key_item)
            self.table.setItem(row, 1, value_item)
