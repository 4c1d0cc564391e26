"""Type a window and level (W key): exact values, as read from a report or another viewer."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
)

from pneumonet_gui.display import Window


class WindowLevelDialog(QDialog):
    """Width and level in the scan's own units (modality values for DICOM, 0..1 for PNG/JPEG)."""

    def __init__(self, window: Window, value_range: tuple[float, float], raw_units: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Window / level")
        lo, hi = value_range
        span = max(hi - lo, 1e-6)
        decimals = 1 if raw_units else 3
        self.width_box = QDoubleSpinBox()
        self.level_box = QDoubleSpinBox()
        for box, value, low, high in ((self.width_box, window.width, 0.0, 4 * span),
                                      (self.level_box, window.centre, lo - span, hi + span)):
            box.setDecimals(decimals)
            box.setRange(low, high)
            box.setSingleStep(span / 100.0)
            box.setValue(value)
            box.setMinimumWidth(self.fontMetrics().horizontalAdvance("-000000.000") + 40)
        units = "modality values (after rescale)" if raw_units else "grey levels, 0 = black, 1 = white"
        note = QLabel(f"In {units}; this scan spans {lo:.4g} to {hi:.4g}.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Width (W)", self.width_box)
        form.addRow("Level (L)", self.level_box)
        form.addRow(note)
        form.addRow(buttons)

    def window(self) -> Window:
        return Window(self.level_box.value(), self.width_box.value())
