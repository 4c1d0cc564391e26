"""The batch table as a reading room uses it: a triage list (likely pneumonias first, by
probability), probabilities that order the top of the scale, the most important warning
in a row with all of them in its tooltip, and columns sized to what they hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from pneumonet_core.results import ScanResult
from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.batch import BatchPanel
from pneumonet_gui.batch.table_model import DECISION, ERROR, OOD, PROBABILITY
from pneumonet_gui.theme import apply_theme
from tests.helpers import on_screen

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


@pytest.fixture
def panel(qtbot, qapp):
    """The panel alone, rows appended as its worker delivers them (no model needed)."""
    apply_theme(qapp)
    widget = on_screen(qtbot, BatchPanel(ActiveModel()), (1100, 640))
    yield widget
    widget.shutdown()


def cell(panel: BatchPanel, row: int, column: int) -> str:
    return panel.proxy.index(row, column).data() or ""


def test_a_batch_reads_as_a_triage_list_with_its_columns_fitted(qtbot, qapp, panel):
    from pneumonet_gui.batch.table_model import WARNINGS

    age = "Patient age 64 years (from birth and study dates) is outside the training population"
    results = [ScanResult("/ward/n.png", 0.20, "NORMAL", 0.5), ScanResult("/ward/p1.png", 0.98412, "PNEUMONIA", 0.5),
               ScanResult.failed("/ward/broken.png", "cannot read"),
               ScanResult("/ward/p2.png", 0.98431, "PNEUMONIA", 0.5,
                          warnings=["Multi-frame image (3 frames): only the first frame is used", age]),
               ScanResult("/ward/p3.png", 0.61, "PNEUMONIA", 0.5)]
    panel.model.clear(Path("/ward"))
    panel._on_rows([(r, None) for r in results])  # as the worker delivers them
    for _ in range(5):
        qapp.processEvents()
    # Triage order without touching a header: PNEUMONIA by probability, then NORMAL, then errors.
    assert [Path(r.path).name for r in panel.visible_results()] == ["p2.png", "p1.png", "p3.png", "n.png",
                                                                    "broken.png"]
    assert [cell(panel, row, PROBABILITY) for row in range(2)] == ["0.9843", "0.9841"]  # the top tells apart
    # The most important warning in the cell (the age, not the decoding note), all of them in its tooltip.
    assert cell(panel, 0, WARNINGS).startswith("Patient age 64 years") and "(+1 more)" in cell(panel, 0, WARNINGS)
    tip = panel.proxy.index(0, WARNINGS).data(Qt.ItemDataRole.ToolTipRole)
    assert age in tip and "Multi-frame" in tip
    # Columns fit their content: an empty Error column stays narrow, the others are not cut.
    table = panel.table
    assert table.columnWidth(ERROR) < 200
    for column in (DECISION, OOD, WARNINGS):
        assert table.columnWidth(column) >= min(280, table.sizeHintForColumn(column)), column
    total = sum(table.columnWidth(c) for c in range(panel.proxy.columnCount()))
    assert total <= table.viewport().width() or table.columnWidth(ERROR) < 200
