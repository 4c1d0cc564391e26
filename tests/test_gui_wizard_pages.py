"""The wizard's widgets as a reader sees them in the dark theme, without training a model:
radio buttons that show, a loss chart whose legend covers no curve, the classification
report as a table, and the Save page's words (no Markdown backticks)."""

from __future__ import annotations

import numpy as np
import pytest

from pneumonet_gui.qimage import qimage_to_array
from pneumonet_gui.theme import apply_theme

pytestmark = [pytest.mark.gui]


def test_radio_buttons_show_in_the_dark_theme(qtbot, qapp):
    from PySide6.QtWidgets import QRadioButton

    apply_theme(qapp)
    grabs = []
    for checked in (False, True):
        button = QRadioButton("")
        button.setChecked(checked)
        button.resize(20, 20)
        qtbot.addWidget(button)
        button.show()
        grabs.append(qimage_to_array(button.grab().toImage())[..., :3].astype(int))
    unchecked, checked = grabs
    background = np.median(unchecked.reshape(-1, 3), axis=0)
    ring = np.abs(unchecked - background).sum(axis=-1)
    assert (ring > 120).sum() >= 12  # the empty circle stands out from the window
    assert (checked.min(axis=-1) > 220).sum() >= 4  # the white dot of the chosen one


def test_the_loss_chart_legend_sits_outside_every_plot(qtbot):
    from pneumonet_gui.wizard.charts import TrainingCurves

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(900, 260)
    for epoch in range(1, 6):  # validation loss high on the right, where a legend went
        curves.add_epoch({"epoch": epoch, "loss": 0.7 / epoch, "val_loss": 0.3 + 0.1 * epoch, "accuracy": 0.8,
                          "val_accuracy": 0.8, "auc": 0.9, "val_auc": 0.9})
    curves.draw()
    renderer = curves.figure.canvas.get_renderer()
    legend = curves.legend.get_window_extent(renderer)
    for ax in curves.figure.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer)), ax.get_title()


def test_the_classification_report_is_a_table(qtbot):
    from pneumonet_core.evaluation.metrics import evaluate_predictions, report_rows
    from pneumonet_gui.wizard.evaluation_page import ReportTable

    metrics = evaluate_predictions([0, 0, 0, 1, 1, 1, 1, 0, 1, 1], [.1, .6, .2, .9, .8, .3, .7, .1, .9, .4], 0.5)
    table = ReportTable()
    qtbot.addWidget(table)
    table.show_rows(report_rows(metrics["confusion_matrix"]))
    assert table.cells() == [["NORMAL", "0.600", "0.750", "0.667", "4"], ["PNEUMONIA", "0.800", "0.667", "0.727", "6"],
                             ["macro average", "0.700", "0.708", "0.697", "10"],
                             ["weighted average", "0.720", "0.700", "0.703", "10"]]
    for row in report_rows(metrics["confusion_matrix"]):  # the same figures as sklearn's text
        assert f"{row[0].replace('average', 'avg')}" in metrics["classification_report"]
        assert f"{row[3]:.4f}" in metrics["classification_report"]


def test_the_save_page_speaks_plain_words(qtbot):
    from pneumonet_gui.wizard.save_page import SavePage

    page = SavePage()
    qtbot.addWidget(page)
    assert "`" not in page.subTitle() + page.title() and "pneumonet models" in page.subTitle()
