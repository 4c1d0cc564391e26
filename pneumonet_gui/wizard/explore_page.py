"""Page 2, Exploration: the class distribution, sample images per class, and the patient split.

The split is ``pneumonet_core.data.split.split_by_patient`` itself with the fractions and
seed chosen here, so the counts shown are the ones ``pneumonet train`` will use.
Thumbnails are decoded in a worker and appear as they arrive.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from pneumonet_core.data.discovery import check_usable
from pneumonet_core.data.report import MIN_PER_CLASS, sample_images, thumbnail
from pneumonet_core.data.split import SPLITS, split_by_patient
from pneumonet_core.errors import DatasetError
from pneumonet_gui import theme, workers
from pneumonet_gui.wizard.charts import ClassDistributionChart
from pneumonet_gui.wizard.common import CountTable, MessageLabel, heading

THUMBNAILS_PER_CLASS = 6
THUMBNAIL_SIZE = 92


def load_thumbnails(jobs):
    """Yield (class, column, pixels or None, error or None) for each (class, column, path) (runs in a worker)."""
    for name, col, path in jobs:
        try:
            yield name, col, thumbnail(path, THUMBNAIL_SIZE - 2), None
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the grid
            yield name, col, None, str(exc)


class ExplorePage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Exploration")
        self.setSubTitle("How the images are distributed, what they look like, and how whole patients are split "
                         "into training, validation and held-out test sets.")
        self.split = None
        self.refusal: str | None = None
        self._thumbs: workers.Worker | None = None
        self._generation = 0
        self.thumbnail_labels: dict[str, list[QLabel]] = {}

        self.chart = ClassDistributionChart()
        self.validation_spin = self._fraction_spin(0.15)
        self.test_spin = self._fraction_spin(0.15)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(1)
        for spin in (self.validation_spin, self.test_spin, self.seed_spin):
            spin.valueChanged.connect(self._update_split)
        self.labels_combo = QComboBox()
        self.labels_combo.addItem("Binary: NORMAL / PNEUMONIA", "binary")
        self.labels_combo.addItem("Three labels: NORMAL / BACTERIA / VIRUS", "three")
        self.labels_combo.currentIndexChanged.connect(self._labels_changed)
        form = QFormLayout()
        form.addRow("Labels", self.labels_combo)
        form.addRow("Validation patients", self.validation_spin)
        form.addRow("Held-out test patients", self.test_spin)
        form.addRow("Random seed", self.seed_spin)
        self.split_table = CountTable()
        self.split_messages = MessageLabel()
        split_box = QGroupBox("Split by patient")
        split_layout = QVBoxLayout(split_box)
        split_layout.addLayout(form)
        split_layout.addWidget(self.split_table)
        split_layout.addWidget(self.split_messages)
        split_layout.addStretch(1)

        top = QHBoxLayout()
        top.addWidget(self.chart, 5)
        top.addWidget(split_box, 6)

        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(4)

        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(heading("Sample images"))
        layout.addWidget(self.grid_widget)

    @staticmethod
    def _fraction_spin(value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.05, 0.4)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(value)
        spin.setToolTip("Fraction of each class's patients (whole patients, never single images)")
        return spin

    # --- entering the page --------------------------------------------------------------

    def initializePage(self) -> None:
        report = self.wizard().data_page.report
        three = report.three_labels_available
        self.labels_combo.model().item(1).setEnabled(three)
        self.labels_combo.setItemData(1, None if three else "The file names do not say BACTERIA or VIRUS",
                                      Qt.ItemDataRole.ToolTipRole)
        if not three:
            self.labels_combo.setCurrentIndex(0)
        self._labels_changed()
        self._load_thumbnails(report)

    def _labels_changed(self) -> None:
        wizard = self.wizard()
        if wizard is None or wizard.data_page.report is None:
            return
        labels = self.labels_combo.currentData()
        wizard.options.labels = labels
        report = wizard.data_page.report
        self.chart.show_counts(report.counts(labels), report.patients(labels),
                               f"Images per class ({len(report.images)} in all)")
        self._update_split()

    def _update_split(self) -> None:
        wizard = self.wizard()
        if wizard is None or wizard.data_page.report is None:
            return
        report = wizard.data_page.report
        labels = wizard.options.labels
        self.split = split_by_patient(report.images, self.validation_spin.value(), self.test_spin.value(),
                                      self.seed_spin.value(), labels)
        summary = self.split.summary()
        classes = list(report.counts(labels))
        rows = []
        for name in SPLITS:
            part = summary[name]
            rows.append([{"test": "held-out test"}.get(name, name), part["images"], part["patients"],
                         *[part["per_class"].get(c, 0) for c in classes]])
        self.split_table.fill(["Split", "Images", "Patients", *classes], rows)
        problems = []
        for name in ("train", "validation", "test"):
            missing = [c for c in classes if summary[name]["per_class"].get(c, 0) == 0]
            if missing:
                problems.append(f"the {name} split has no {', '.join(missing)} patients: use more images or "
                                "larger fractions")
        self.refusal = None
        try:
            check_usable(report.images, labels, MIN_PER_CLASS)
        except DatasetError as exc:
            self.refusal = str(exc)
        for name in SPLITS:
            if not summary[name]["images"]:
                self.refusal = self.refusal or f"the {name} split is empty: use more images or other fractions"
        self.split_messages.show_messages(self.refusal, problems, summary.get("notes", []))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.split is not None and self.refusal is None

    def validatePage(self) -> bool:
        options = self.wizard().options
        options.val_fraction = self.validation_spin.value()
        options.test_fraction = self.test_spin.value()
        options.seed = self.seed_spin.value()
        return True

    # --- thumbnails ---------------------------------------------------------------------

    def _load_thumbnails(self, report) -> None:
        if self._thumbs is not None:
            self._thumbs.quit()
        self._generation += 1
        generation = self._generation
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        samples = sample_images(report, THUMBNAILS_PER_CLASS)
        self.thumbnail_labels = {}
        jobs = []
        for row, (name, paths) in enumerate(samples.items()):
            title = QLabel(f"<b>{name}</b>")
            title.setFixedWidth(90)
            self.grid.addWidget(title, row, 0)
            self.thumbnail_labels[name] = []
            for col, path in enumerate(paths):
                label = QLabel("\u2026")
                label.setFixedSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setStyleSheet(f"background: {theme.BASE}; border: 1px solid {theme.BORDER}; "
                                    f"color: {theme.MUTED};")
                label.setToolTip(str(path))
                self.grid.addWidget(label, row, col + 1)
                self.thumbnail_labels[name].append(label)
                jobs.append((name, col, path))
        self.grid.setColumnStretch(THUMBNAILS_PER_CLASS + 1, 1)

        self._thumbs = workers.start(load_thumbnails, jobs,
                                     _connect={"yielded": lambda item: self._show_thumbnail(item, generation)})

    def _show_thumbnail(self, item, generation: int) -> None:
        if generation != self._generation:
            return  # from an earlier visit of the page
        name, col, pixels, error = item
        labels = self.thumbnail_labels.get(name, [])
        if col >= len(labels):
            return
        label = labels[col]
        if pixels is None:
            label.setText("unreadable")
            label.setToolTip(error)
            return
        pixels = np.ascontiguousarray(pixels)
        image = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0],
                       QImage.Format.Format_Grayscale8).copy()
        label.setPixmap(QPixmap.fromImage(image))

    @property
    def thumbnails_loaded(self) -> int:
        return sum(1 for labels in self.thumbnail_labels.values() for label in labels if not label.pixmap().isNull())

    def cleanup(self) -> None:
        if self._thumbs is not None:
            self._thumbs.quit()
            self._thumbs.wait(10)
