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
    """Width and level in the scan's own units (modality values for DICOM, 0..255 for PNG/JPEG)."""

    def __init__(self, window: Window, value_range: tuple[float, float], raw_units: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Window / level")
        # The boxes show what the status bar and corners show: 0..255 grey levels for a
        # PNG or JPEG (the viewer works in 0..1), modality values for DICOM.
        self._scale = scale = 1.0 if raw_units else 255.0
        lo, hi = value_range[0] * scale, value_range[1] * scale
        window = Window(window.centre * scale, window.width * scale)
        span = max(hi - lo, 1e-6)
        decimals = 1 if raw_units else 0
        self.width_box = QDoubleSpinBox()
        self.level_box = QDoubleSpinBox()
        for box, value, low, high in ((self.width_box, window.width, 0.0, 4 * span),
                                      (self.level_box, window.centre, lo - span, hi + span)):
            box.setDecimals(decimals)
            box.setRange(low, high)
            box.setSingleStep(span / 100.0)
            box.setValue(value)
            box.setMinimumWidth(self.fontMetrics().horizontalAdvance("-000000.000") + 40)
        units = "modality values (after rescale)" if raw_units else "grey levels, 0 = black, 255 = white"
        note = QLabel(f"In {units}; this scan spans {lo:.0f} to {hi:.0f}.")
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
        """The typed window in the viewer's units."""
        return Window(self.level_box.value() / self._scale, self.width_box.value() / self._scale)
