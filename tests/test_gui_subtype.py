"""The bacterial/viral second opinion in the GUI, driven through the real widgets (pytest-qt).

The result panel shows the opinion and its caveat for a PNEUMONIA decision only; the
batch table and the worklist show the short words in a "Type" column; the heat map can
explain the opinion on request ("Explain: bacterial/viral"), with a legend that says
which question the map explains. Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (or the
test's folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pneumonet_core.results import SUBTYPE_CAVEAT, ScanResult
from pneumonet_gui.result_panel import ResultPanel
from pneumonet_gui.subtype_view import EXPLAIN_PNEUMONIA, EXPLAIN_SUBTYPE
from pneumonet_gui.theme import apply_theme
from pneumonet_gui.trust import LEGEND
from tests.gui_viewer_support import WAIT_MS, open_and_wait, save, viewer_pixels
from tests.helpers import SHARED_TRAIN, make_tiny_model, on_screen

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


def pneumonia(path="/ward/a.png", subtype="VIRUS", viral=0.81, **other) -> ScanResult:
    return ScanResult(path, 0.9, "PNEUMONIA", 0.5, subtype=subtype, viral_probability=viral, **other)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(a pneumonia model that calls every film PNEUMONIA, a bacterial/viral model with other weights)."""
    folder = tmp_path_factory.mktemp("gui-subtype-models")
    sick = make_tiny_model(folder / "sick.pneumonet", threshold=1e-6)
    subtype = make_tiny_model(folder / "subtype.pneumonet", labels="subtype", name="tiny-subtype", seed=3)
    return sick, subtype


def test_the_result_panel_shows_the_opinion_and_its_caveat_for_pneumonia_only(qtbot, qapp):
    apply_theme(qapp)
    panel = on_screen(qtbot, ResultPanel(), (340, 600))
    panel.show_result(pneumonia())
    assert panel.subtype.shown_text() == "Bacterial or viral: looks viral (p = 0.81)"
    assert panel.subtype.caveat.text() == SUBTYPE_CAVEAT and panel.subtype.caveat.isVisible()
    assert panel.subtype.caveat.objectName() == "muted" and panel.subtype.caveat.wordWrap()
    assert "Most likely type" not in panel.details.text()
    panel.show_result(pneumonia(subtype="BACTERIA", viral=0.18))
    assert panel.subtype.shown_text() == "Bacterial or viral: looks bacterial (p = 0.82)"
    panel.show_result(pneumonia(subtype="UNDETERMINED", viral=0.52))
    assert panel.subtype.shown_text() == "Bacterial or viral: undetermined (viral p = 0.52)"

    # NORMAL, withheld and failed scans: the core clears the opinion, and nothing is shown.
    normal = ScanResult("/ward/b.png", 0.1, "NORMAL", 0.5, subtype="VIRUS", viral_probability=0.9)
    withheld = pneumonia(out_of_distribution=True, ood_reason="not a chest film")
    failed = ScanResult.failed("/ward/c.png", "cannot read")
    for result in (normal, withheld, failed):
        assert (result.subtype, result.viral_probability, result.subtype_text) == (None, None, "")
    panel.show_result(pneumonia())
    panel.show_result(normal)
    assert panel.subtype.isHidden() and panel.subtype.shown_text() == ""
    panel.show_result(pneumonia())
    panel.show_result(withheld)
    assert panel.subtype.isHidden()
    panel.show_result(pneumonia())
    panel.show_error("cannot read")
    assert panel.subtype.isHidden()
    panel.show_result(pneumonia())
    panel.show_waiting("Analysing")
    assert panel.subtype.isHidden()


def test_the_batch_table_has_a_sortable_type_column(qtbot, qapp):
    from pneumonet_gui.active_model import ActiveModel
    from pneumonet_gui.batch import BatchPanel
    from pneumonet_gui.batch.table_model import TYPE

    apply_theme(qapp)
    panel = on_screen(qtbot, BatchPanel(ActiveModel()), (1100, 500))
    results = [pneumonia("/ward/viral.png"), pneumonia("/ward/bact.png", "BACTERIA", 0.18),
               pneumonia("/ward/unsure.png", "UNDETERMINED", 0.52),
               ScanResult("/ward/normal.png", 0.1, "NORMAL", 0.5, subtype="VIRUS", viral_probability=0.9),
               pneumonia("/ward/knee.png", out_of_distribution=True), ScanResult.failed("/ward/x.png", "bad")]
    panel.model.clear(Path("/ward"))
    for result in results:
        panel.model.append(result)
    assert panel.model.headerData(TYPE, Qt.Orientation.Horizontal) == "Type"
    text = {Path(r.path).name: panel.proxy.index(i, TYPE).data() or "" for i, r in enumerate(panel.visible_results())}
    assert text == {"viral.png": "viral 0.81", "bact.png": "bacterial 0.82", "unsure.png": "undetermined",
                    "normal.png": "", "knee.png": "", "x.png": ""}
    tip = panel.proxy.index(0, TYPE).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == f"Bacterial or viral: looks viral (p = 0.81)\n{SUBTYPE_CAVEAT}"
    assert panel.proxy.index(3, TYPE).data(Qt.ItemDataRole.ToolTipRole) is None
    panel.table.sortByColumn(TYPE, Qt.SortOrder.DescendingOrder)
    assert [Path(r.path).name for r in panel.visible_results()][:3] == ["viral.png", "unsure.png", "bact.png"]
    panel.table.sortByColumn(TYPE, Qt.SortOrder.AscendingOrder)
    assert [Path(r.path).name for r in panel.visible_results()][-3:] == ["bact.png", "unsure.png", "viral.png"]
    panel.shutdown()


def test_the_worklist_shows_the_type_of_a_pneumonia_study(qapp):
    from pneumonet_core.dicom_node import events as ev
    from pneumonet_gui.worklist.table_model import DECISION, TYPE, WorklistTableModel

    def study(uid: str) -> ev.StudyInfo:
        return ev.StudyInfo(uid, patient_name=f"Child, {uid}", patient_id=f"ID-{uid}")

    # Outcome keeps the opinion from the ScanResult, through the journal, for PNEUMONIA only.
    viral = ev.Outcome.of(pneumonia())
    assert (viral.subtype, viral.viral_probability) == ("VIRUS", 0.81)
    assert ev.Outcome.from_dict(viral.to_dict()) == viral
    assert ev.Outcome(0.2, "NORMAL", 0.5, subtype="VIRUS", viral_probability=0.9).subtype is None
    model = WorklistTableModel()
    model.apply([ev.NodeEvent(ev.RECEIVED, "k1", study("two")), ev.NodeEvent(ev.RECEIVED, "k2", study("two")),
                 ev.NodeEvent(ev.RECEIVED, "k3", study("well")),
                 # the study's type is that of its most suspicious image
                 ev.NodeEvent(ev.ANSWERED, "k1", study("two"), ev.Outcome(0.7, "PNEUMONIA", 0.5, subtype="VIRUS",
                                                                        viral_probability=0.9)),
                 ev.NodeEvent(ev.ANSWERED, "k2", study("two"), ev.Outcome(0.95, "PNEUMONIA", 0.5, subtype="BACTERIA",
                                                                        viral_probability=0.2)),
                 ev.NodeEvent(ev.ANSWERED, "k3", study("well"), ev.Outcome(0.1, "NORMAL", 0.5))])
    row = {model.rows[r].study_uid: r for r in range(model.rowCount())}
    assert model.headerData(TYPE, Qt.Orientation.Horizontal) == "Type"
    assert model.index(row["two"], DECISION).data() == "Pneumonia"
    assert model.index(row["two"], TYPE).data() == "bacterial 0.80"
    assert SUBTYPE_CAVEAT in model.index(row["two"], TYPE).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(row["well"], TYPE).data() == ""


@pytest.fixture
def make_window(qtbot, qapp):
    """A main window with ``model``, at 1280 x 720 (the smallest screen the app is laid out for)."""
    from pneumonet_gui.main_window import MainWindow

    apply_theme(qapp)

    def make(model):
        window = MainWindow(model=model, extensions=False)
        return on_screen(qtbot, window, (1280, 720))

    return make


def clipped(label) -> bool:
    """True when a word-wrapped label is cut: narrower than its text's line, or shorter than its wrapped height."""
    return label.height() < label.heightForWidth(label.width()) or label.width() < 40


def test_the_viewer_shows_the_opinion_and_explains_it_on_request(qtbot, qapp, models, monkeypatch, make_window,
                                                                 shots):
    sick, subtype = models
    monkeypatch.setenv("PNEUMONET_SUBTYPE_MODEL", str(subtype))
    films = sorted((SHARED_TRAIN / "PNEUMONIA").glob("*virus*.jpeg"))[:2]
    window = make_window(sick)
    open_and_wait(qtbot, window, films[0])
    result, panel, controls = window.current.result, window.result_panel, window.heatmap_controls
    assert result.label == "PNEUMONIA" and result.subtype in ("VIRUS", "BACTERIA", "UNDETERMINED")
    assert panel.subtype.shown_text() == f"Bacterial or viral: {result.subtype_text}"
    assert panel.subtype.caveat.isVisible()
    # The dock refits to its content after the result (a queued layout pass): wait for it, then never cut.
    qtbot.waitUntil(lambda: not clipped(panel.subtype.caveat) and not clipped(panel.subtype.line), timeout=3000)
    assert panel.subtype.caveat.width() <= window.result_scroll.viewport().width()
    assert "Bacterial/viral: subtype" in panel.model.text()  # the subtype model in use, by file name
    qtbot.waitUntil(lambda: window.viewer.has_heatmap(), timeout=WAIT_MS)
    assert controls.explain.isEnabled() and controls.explain.isVisibleTo(window)
    assert controls.explain.currentText() == EXPLAIN_PNEUMONIA
    assert controls.status.text() == LEGEND
    before = viewer_pixels(window)

    controls.explain.setCurrentText(EXPLAIN_SUBTYPE)
    presenter = window.heatmap_presenter
    qtbot.waitUntil(lambda: presenter.explains_subtype(window.current), timeout=WAIT_MS)
    side = {"VIRUS": "viral", "BACTERIA": "bacterial"}.get(result.subtype, "viral")
    assert window.presenter.subtype_heatmap.explaining() == side
    assert f"drove \u2018{side}\u2019" in controls.status.text() and "bacterial/viral" in controls.status.text()
    assert controls.legend.isVisible()
    assert presenter.subtype_map.shape == window.current.heatmap.shape
    assert not np.allclose(presenter.subtype_map, window.current.heatmap)
    for _ in range(5):
        qapp.processEvents()
    assert not np.array_equal(viewer_pixels(window), before)  # another map over the scan
    window.result_scroll.ensureWidgetVisible(controls.status)  # the choice and the legend in the picture
    save(window, shots, "viewer-subtype-heatmap-1280x720.png")

    controls.explain.setCurrentText(EXPLAIN_PNEUMONIA)  # back to the pneumonia map
    for _ in range(5):
        qapp.processEvents()
    assert not presenter.explains_subtype(window.current) and controls.status.text() == LEGEND
    assert np.array_equal(viewer_pixels(window), before)

    controls.explain.setCurrentText(EXPLAIN_SUBTYPE)
    qtbot.waitUntil(lambda: presenter.explains_subtype(window.current), timeout=WAIT_MS)
    open_and_wait(qtbot, window, films[1])  # a new scan starts from the pneumonia map
    assert controls.explain.currentText() == EXPLAIN_PNEUMONIA and not presenter.explains_subtype(window.current)
    assert controls.explain.isEnabled() and controls.status.text() == LEGEND


def test_without_an_opinion_the_subtype_map_is_not_offered(qtbot, models, make_window):
    window = make_window(models[0])  # the suite's default: PNEUMONET_SUBTYPE_MODEL=none
    open_and_wait(qtbot, window, sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[0])
    assert window.current.result.label == "PNEUMONIA" and window.current.result.subtype is None
    assert window.result_panel.subtype.isHidden()
    assert not window.heatmap_controls.explain.isEnabled()
    assert not window.heatmap_controls.explain.isVisibleTo(window)  # no choice, no row
    assert window.heatmap_controls.explain.currentText() == EXPLAIN_PNEUMONIA
    assert "Bacterial/viral" not in window.result_panel.model.text()
