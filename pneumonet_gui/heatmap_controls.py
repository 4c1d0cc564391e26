"""Controls of the Grad-CAM layer: show/hide, also for NORMAL decisions, opacity, colour
map, and the legend that says what the colours mean."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
)

from pneumonet_gui.colour_bar import ColourBar
from pneumonet_gui.display import COLORMAPS
from pneumonet_gui.subtype_view import EXPLAIN_PNEUMONIA, EXPLAIN_SUBTYPE
from pneumonet_gui.trust import GRADCAM_EXPLAINED, LEGEND


class HeatmapControls(QGroupBox):
    """Emits changes; the main window applies them to the viewer and keeps the H action in step."""

    visibleChanged = Signal(bool)
    showForNormalChanged = Signal(bool)
    opacityChanged = Signal(float)
    colormapChanged = Signal(str)
    #: Which question the map explains: EXPLAIN_PNEUMONIA or EXPLAIN_SUBTYPE (:mod:`.subtype_view`).
    explainChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Grad-CAM heat map", parent)
        self.setToolTip(GRADCAM_EXPLAINED)
        layout = QVBoxLayout(self)
        self.show_box = QCheckBox("Show heat map  (H)")
        self.show_box.setChecked(True)
        self.show_box.toggled.connect(self.visibleChanged)
        self.normal_box = QCheckBox("Also for \u201cNo pneumonia found\u201d")
        self.normal_box.setToolTip("By default the heat map is shown for PNEUMONIA decisions only")
        self.normal_box.toggled.connect(self.showForNormalChanged)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setToolTip("Opacity of the heat map over the scan")
        self.opacity_value = QLabel("45%")
        self.opacity_value.setMinimumWidth(self.opacity_value.fontMetrics().horizontalAdvance("100%") + 4)
        self.opacity.valueChanged.connect(self._on_opacity)
        row = QHBoxLayout()
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_value)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.currentTextChanged.connect(self.colormapChanged)
        self.legend = ColourBar(self.colormap.currentText())
        self.colormap.currentTextChanged.connect(self.legend.set_colormap)
        form.addRow("Opacity", row)
        form.addRow("Colours", self.colormap)
        self._add_explain_row(form)
        self.status = QLabel(LEGEND)
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        for widget in (self.show_box, self.normal_box):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(self.legend)
        layout.addWidget(self.status)

    def _add_explain_row(self, form: QFormLayout) -> None:
        """The choice of the question the map explains: the pneumonia decision, or the bacterial/viral opinion."""
        self.explain = QComboBox()
        self.explain.addItems([EXPLAIN_PNEUMONIA, EXPLAIN_SUBTYPE])
        self.explain.currentTextChanged.connect(self.explainChanged)
        form.addRow("Explain", self.explain)
        self._explain_form = form
        self.set_explain_available(False)

    def set_explain_available(self, available: bool) -> None:
        """Offer bacterial/viral only for a result with that opinion; without one, back to pneumonia."""
        if not available and self.explain.currentText() != EXPLAIN_PNEUMONIA:
            self.explain.setCurrentText(EXPLAIN_PNEUMONIA)
        self.explain.setEnabled(bool(available))
        # Shown only when there is a choice: at 1280 x 720 the Result dock has no row to spare.
        self._explain_form.setRowVisible(self.explain, bool(available))
        self.explain.setToolTip("Which finding the heat map explains" if available else
                                "Bacterial/viral is offered for a Pneumonia decision with that opinion")

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value}%")
        self.opacityChanged.emit(value / 100.0)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def show_availability(self, available: bool, shown: bool, why: str, action) -> None:
        """The box and the window's Heat map ``action`` read what is on screen: off, disabled and
        saying why when no map may show (no scan, no result yet, NORMAL, withheld)."""
        action.setEnabled(available)
        action.setChecked(shown)  # the reader's choice travels on triggered, not toggled: no echo
        box = self.show_box
        box.blockSignals(True)  # its toggled carries the reader's choice: this is only a display
        box.setEnabled(available)
        box.setChecked(shown)
        box.blockSignals(False)
        action.setToolTip("Show the Grad-CAM heat map over the scan (H)" if available else f"{why} (H)")
        box.setToolTip("" if available else why)

    def set_legend_visible(self, visible: bool) -> None:
        """The colour bar goes with a heat map on screen, never without one."""
        self.legend.setVisible(bool(visible))
