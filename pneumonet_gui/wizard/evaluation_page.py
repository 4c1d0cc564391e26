"""Page 5, Evaluation: the new model on the held-out patients it never saw.

The figures come from ``pneumonet_core.evaluation.folder.evaluate_folder`` on the card's
held-out patients, run in a worker: exactly what ``pneumonet evaluate DIR --model FILE
--held-out`` prints. The operating threshold, its rule and its sensitivity and
specificity on the validation patients that chose it come from the saved card.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from pneumonet_core.evaluation.metrics import report_rows
from pneumonet_gui import workers
from pneumonet_gui.wizard.charts import ConfusionMatrixChart, RocChart
from pneumonet_gui.wizard.common import MessageLabel

METRIC_NAMES = (("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"), ("specificity", "Specificity"),
                ("precision", "Precision"), ("f1", "F1"), ("roc_auc", "ROC AUC"))


def evaluate_held_out(data_dir, model_path) -> dict:
    """Load the model and evaluate it on its held-out patients (runs in a worker)."""
    from pneumonet_core.evaluation.folder import evaluate_folder
    from pneumonet_core.inference.classifier import Classifier

    classifier = Classifier.load(model_path)
    metrics, rows, errors = evaluate_folder(data_dir, classifier, held_out=True)
    patients = len({im.patient for im, _ in rows})
    return {"metrics": metrics, "errors": errors, "card": classifier.card, "patients": patients}


class EvaluationPage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Evaluation on held-out patients")
        self.setSubTitle("These patients were used neither for training, nor for choosing the epoch, nor for "
                         "choosing the threshold; but they are a split of the training data set (same hospital), "
                         "so these figures flatter the model. The next page measures it on external films.")
        self.result: dict | None = None
        self.error: str | None = None
        self._task: workers.Worker | None = None

        self.status = MessageLabel()
        self.metric_labels: dict[str, QLabel] = {}
        metrics_box = QGroupBox("At the operating threshold")
        grid = QGridLayout(metrics_box)
        for i, (key, name) in enumerate(METRIC_NAMES):
            title = QLabel(name)
            title.setObjectName("muted")
            value = QLabel("\u2013")
            value.setStyleSheet("font-size: 18px; font-weight: bold;")
            grid.addWidget(title, 0, i)
            grid.addWidget(value, 1, i)
            self.metric_labels[key] = value
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        grid.addWidget(self.count_label, 2, 0, 1, len(METRIC_NAMES))
        self.threshold_label = QLabel()
        self.threshold_label.setWordWrap(True)

        self.confusion = ConfusionMatrixChart()
        self.roc = RocChart()
        self.report_view = ReportTable()
        report_box = QGroupBox("Classification report")
        report_layout = QVBoxLayout(report_box)
        report_layout.addWidget(self.report_view)

        threshold_box = QGroupBox("Operating threshold")
        threshold_layout = QVBoxLayout(threshold_box)
        threshold_layout.addWidget(self.threshold_label)
        left = QVBoxLayout()
        left.addWidget(threshold_box)
        left.addWidget(report_box)
        left.addStretch(1)
        charts = QHBoxLayout()
        charts.addLayout(left, 4)
        charts.addWidget(self.confusion, 3)
        charts.addWidget(self.roc, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(metrics_box)
        layout.addLayout(charts, 1)

    def initializePage(self) -> None:
        self.result = None
        self.error = None
        wizard = self.wizard()
        data_dir, model = wizard.options.data_dir, wizard.trained_model_path
        self.status.show_messages(notes=["Classifying the held-out patients with the new model\u2026"])
        for label in self.metric_labels.values():
            label.setText("\u2013")
        if self._task is not None:
            self._task.quit()
        self._task = workers.start(evaluate_held_out, data_dir, model,
                                   _connect={"returned": self._show, "failed": self._failed})
        self.completeChanged.emit()

    def _failed(self, message: str) -> None:
        self.error = message
        self._task = None
        self.status.show_messages(f"the evaluation failed: {message}")

    def cleanupPage(self) -> None:
        if self._task is not None:
            self._task.quit()
            self._task = None
        self.result = None

    def isComplete(self) -> bool:
        return self.result is not None

    @property
    def busy(self) -> bool:
        return self._task is not None and self._task.is_running

    def _show(self, result: dict) -> None:
        self.result = result
        self._task = None
        metrics, card = result["metrics"], result["card"]
        for key, label in self.metric_labels.items():
            value = metrics.get(key)
            label.setText("n/a" if value is None else f"{value:.3f}")
        self.count_label.setText(f"{metrics['n']} images of {result['patients']} held-out patients, "
                                 f"threshold {metrics['threshold']:.4f}")
        v = card.validation or {}
        self.threshold_label.setText(
            f"<b>{card.threshold:.4f}</b> \u2014 rule: {html.escape(card.threshold_rule)}.<br>"
            f"On the {v.get('patients', '?')} validation patients that chose it: sensitivity "
            f"<b>{_f(v.get('sensitivity'))}</b>, specificity <b>{_f(v.get('specificity'))}</b>.<br>"
            "A scan is called PNEUMONIA when its probability is at or above it.")
        self.confusion.show_matrix(metrics["confusion_matrix"])
        curve = metrics.get("roc_curve") or {}
        point = None
        if metrics.get("specificity") is not None and metrics.get("sensitivity") is not None:
            point = (1.0 - metrics["specificity"], metrics["sensitivity"])
        self.roc.show_curve(curve.get("fpr", []), curve.get("tpr", []), metrics.get("roc_auc"), point)
        self.report_view.show_rows(report_rows(metrics["confusion_matrix"]))
        notes = [f"skipped {e}" for e in result["errors"][:5]]
        self.status.show_messages(warnings=notes)
        self.completeChanged.emit()

    def roc_points(self, decimals: int = 4) -> dict | None:
        """The held-out ROC curve, rounded, for storing in the saved card."""
        if not self.result:
            return None
        curve = self.result["metrics"].get("roc_curve") or {}
        if not curve.get("fpr"):
            return None
        return {k: np.round(np.asarray(v, dtype=float), decimals).tolist() for k, v in curve.items()}


class ReportTable(QTableWidget):
    """The classification report as a table: one row per class and average, figures aligned right."""

    COLUMNS = ("", "Precision", "Recall", "F1", "Images")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setShowGrid(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(self.COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumWidth(380)
        self.setFixedHeight(150)

    def show_rows(self, rows) -> None:
        self.setRowCount(len(rows))
        for r, (name, *figures, support) in enumerate(rows):
            cells = [name, *(_f(v) for v in figures), str(support)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)

    def cells(self) -> list[list[str]]:
        """What the table shows, row by row (for tests and copying)."""
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]


def _f(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3f}"

