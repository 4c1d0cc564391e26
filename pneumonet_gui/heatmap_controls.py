"""Controls of the Grad-CAM layer: show/hide, opacity, colour map."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout

from pneumonet_gui.display import COLORMAPS


class HeatmapControls(QGroupBox):
    """Emits changes; the main window applies them to the viewer and keeps the H action in step."""

    visibleChanged = Signal(bool)
    opacityChanged = Signal(float)
    colormapChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Grad-CAM heat map", parent)
        layout = QVBoxLayout(self)
        self.show_box = QCheckBox("Show heat map  (H)")
        self.show_box.setChecked(True)
        self.show_box.toggled.connect(self.visibleChanged)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setToolTip("Opacity of the heat map over the scan")
        self.opacity_value = QLabel("45%")
        self.opacity_value.setMinimumWidth(36)
        self.opacity.valueChanged.connect(self._on_opacity)
        row = QHBoxLayout()
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_value)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.currentTextChanged.connect(self.colormapChanged)
        form.addRow("Opacity", row)
        form.addRow("Colours", self.colormap)
        self.status = QLabel("Regions that drove the model's output.")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        layout.addWidget(self.show_box)
        layout.addLayout(form)
        layout.addWidget(self.status)

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value}%")
        self.opacityChanged.emit(value / 100.0)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
