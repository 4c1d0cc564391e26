"""The Worklist panel with a real listener on a free loopback port: dcmtk's storescu sends chest
DICOMs, the studies appear in triage order (highest probability first) with identifiers
hidden, a double-click opens the received file, Stop stops the listener; a restart lists what
the journal holds. Then the panel and File ▸ Preferences in the main window, and the
bfloat16 option behind its feature check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from pneumonet_gui.active_model import ActiveModel
from pneumonet_gui.worklist import WorklistPanel, node_settings
from pneumonet_gui.worklist.table_model import DECISION, PATIENT, PATIENT_ID, PROBABILITY, STATUS, STUDY_DATE
from tests.helpers import SHARED_TRAIN, on_screen
from tests.pacs_fixtures import chest_dicom, tiny_model  # noqa: F401 - fixtures
from tests.pacs_servers import echoscu, storescu

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]

WAIT_MS = 120_000
NAMES = ("Anna", "Ben", "Cleo")
BUNDLED_CNN = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"


@pytest.fixture(scope="module")
def classifier():
    """The bundled custom CNN: real probabilities, so the triage order means something."""
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(BUNDLED_CNN)


@pytest.fixture
def films(make_dicom_from_image, tmp_path) -> list[Path]:
    """Three chest CRs of three patients: two NORMAL films and, sent last, a PNEUMONIA one."""
    sources = [sorted((SHARED_TRAIN / label).glob("*.jpeg"))[0] for label in ("NORMAL", "PNEUMONIA")]
    sources.insert(1, sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[1])
    return [make_dicom_from_image(source, tmp_path, PatientName=f"Child^{name}", PatientID=f"ID-{name}",
                                  AccessionNumber=f"ACC-{name}", StudyID="1", StudyTime="101500",
                                  ReferringPhysicianName="") for source, name in zip(sources, NAMES)]


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """The app's settings with a listener on a free loopback port (0) storing under the test's folder."""
    s = QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat)
    node_settings.save(s, node_settings.NodeSettings(0, "PNEUMONET", tmp_path / "node", accept_remote=False))
    return s


@pytest.fixture
def make_panel(qtbot, qapp, classifier):
    from pneumonet_gui.theme import apply_theme

    apply_theme(qapp)
    panels = []

    def make(settings: QSettings) -> WorklistPanel:
        panels.append(on_screen(qtbot, WorklistPanel(ActiveModel(classifier), settings), (1300, 420)))
        return panels[-1]

    yield make
    for panel in panels:
        panel.shutdown()


def start(panel: WorklistPanel, qtbot) -> int:
    with qtbot.waitSignal(panel.listening, timeout=WAIT_MS) as started:
        assert panel.start()
    return started.args[0]


def stop(panel: WorklistPanel, qtbot) -> str:
    with qtbot.waitSignal(panel.stopped, timeout=WAIT_MS) as stopped:
        panel.stop_button.click()
    return stopped.args[0]


def cell(panel: WorklistPanel, row: int, column: int) -> str:
    return panel.model.index(row, column).data() or ""


def all_text(panel: WorklistPanel) -> str:
    return " ".join(cell(panel, r, c) for r in range(panel.model.rowCount()) for c in range(panel.model.columnCount()))


def answered(panel: WorklistPanel, count: int) -> bool:
    return len(panel.rows) == count and all(r.status == "done" for r in panel.rows)


def test_studies_arrive_sorted_for_triage_with_identifiers_hidden_and_open_in_the_viewer(
        make_panel, settings, qtbot, qapp, films, tmp_path, shots):
    panel = make_panel(settings)
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    port = start(panel, qtbot)
    status = panel.status_label.text()
    assert port > 0 and f"on port {port}" in status and "this computer only" in status
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    sent = storescu(port, *films)
    assert sent.returncode == 0, sent.stderr
    qtbot.waitUntil(lambda: answered(panel, 3), timeout=WAIT_MS)

    # Triage: the likely pneumonias first, as the table shows them.
    rows = panel.rows
    assert [r.probability for r in rows] == sorted((r.probability for r in rows), reverse=True)
    assert rows[0].patient_name == "Child, Cleo" and rows[0].label == "PNEUMONIA"  # sent last, read first
    assert rows[0].probability > 0.9 > rows[-1].probability
    for i, study in enumerate(rows):
        assert cell(panel, i, PROBABILITY) == f"{study.probability:.4f}"
        words = {"PNEUMONIA": "Pneumonia", "NORMAL": "No pneumonia found"}[study.label]  # people read words
        assert cell(panel, i, DECISION) == words and cell(panel, i, STATUS) == "answered"
    # De-identified on screen until "Hide identifiers" is unticked.
    assert sorted(cell(panel, i, PATIENT) for i in range(3)) == ["Patient 1", "Patient 2", "Patient 3"]
    masked = {cell(panel, i, c) for i in range(3) for c in (PATIENT_ID, STUDY_DATE)}
    assert masked == {"hidden"}
    assert not any(name in all_text(panel) for name in NAMES) and "Child" not in panel.event_label.text()
    for _ in range(5):
        qapp.processEvents()
    assert panel.grab().save(str(shots / "worklist-panel.png"))
    panel.hide_box.setChecked(False)
    assert {cell(panel, i, PATIENT) for i in range(3)} == {f"Child, {name}" for name in NAMES}
    assert {cell(panel, i, PATIENT_ID) for i in range(3)} == {f"ID-{name}" for name in NAMES}

    # A double-click opens the received file of that study.
    index = panel.model.index(0, PATIENT)
    where = panel.table.visualRect(index).center()
    with qtbot.waitSignal(panel.openRequested, timeout=5000) as opened:
        QTest.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=where)  # Qt 6's double click:
        QTest.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=where)  # a press, then the second
    received = Path(opened.args[0])
    assert received.parent == tmp_path / "node" / "received" and received.is_file()
    assert received == rows[0].images[0].path

    # Stop: the listener is gone, the studies stay on screen.
    assert stop(panel, qtbot) == ""
    assert "Stopped" in panel.status_label.text() and panel.start_button.isEnabled() and len(panel.rows) == 3
    assert echoscu(port).returncode != 0


def test_a_restart_lists_the_studies_the_journal_holds(make_panel, settings, qtbot, chest_dicom):
    first = make_panel(settings)
    assert storescu(start(first, qtbot), chest_dicom(PatientName="Child^Dora")).returncode == 0
    qtbot.waitUntil(lambda: answered(first, 1), timeout=WAIT_MS)
    assert stop(first, qtbot) == ""

    again = make_panel(settings)
    with qtbot.waitSignal(again.studiesChanged, timeout=WAIT_MS):
        start(again, qtbot)
    assert [r.study_uid for r in again.rows] == [r.study_uid for r in first.rows]
    assert again.rows[0].status == "done" and again.rows[0].probability == pytest.approx(first.rows[0].probability)


def test_a_port_in_use_or_a_bad_ae_title_is_a_one_line_message(make_panel, settings, tmp_path, qtbot):
    port = start(make_panel(settings), qtbot)
    busy = QSettings(str(tmp_path / "busy.ini"), QSettings.Format.IniFormat)
    node_settings.save(busy, node_settings.NodeSettings(port, "PNEUMONET", tmp_path / "other", accept_remote=False))
    other = make_panel(busy)
    with qtbot.waitSignal(other.stopped, timeout=WAIT_MS) as stopped:
        assert other.start()
    assert stopped.args[0].startswith(f"cannot listen on 127.0.0.1:{port}") and "\n" not in stopped.args[0]
    assert stopped.args[0] in other.status_label.text() and other.start_button.isEnabled()

    node_settings.save(busy, node_settings.NodeSettings(0, "BAD\\AE", tmp_path / "other", accept_remote=False))
    assert not other.start()
    assert "invalid AE title" in other.status_label.text() and other.worker is None


def test_the_main_window_docks_the_worklist_opens_its_studies_and_edits_its_settings(qtbot, qapp, tiny_model, tmp_path):
    from pneumonet_gui.main_window import MainWindow
    from pneumonet_gui.preferences import fast_bfloat16_available, open_preferences

    window = MainWindow(model=tiny_model)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_card is not None, timeout=WAIT_MS)
    panel = window.extensions["worklist"].widget
    assert panel.active_model is window.active_model  # one classifier for the viewer, batch and listener
    worklist = window.extensions["worklist"]
    assert worklist.action in window.file_menu.actions() and not worklist.dock.isVisible()
    window.extensions["worklist"].action.trigger()
    assert window.extensions["worklist"].dock.isVisible()
    assert window.extensions["preferences"].action in window.file_menu.actions()

    scan = sorted((Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chest_xray" / "train" /
                   "NORMAL").glob("*.jpeg"))[0]
    panel.openRequested.emit(str(scan))
    assert window.current.path == scan

    dialog = open_preferences(window)
    assert dialog.inference.isVisibleTo(dialog) == fast_bfloat16_available()
    dialog.port_spin.setValue(11999)
    dialog.ae_edit.setText("READING_ROOM")
    dialog.folder.edit.setText(str(tmp_path / "node"))
    dialog.remote_box.setChecked(False)
    with qtbot.waitSignal(dialog.listenerChanged):
        dialog.accept()
    saved = node_settings.load(window.settings)
    assert (saved.port, saved.ae_title, saved.folder, saved.bind) == (11999, "READING_ROOM", tmp_path / "node",
                                                                       "127.0.0.1")
    assert "AE title READING_ROOM, port 11999" in panel.status_label.text()
    dialog = open_preferences(window)
    dialog.ae_edit.setText("BAD\\AE")
    dialog.accept()
    assert dialog.isVisible() and "invalid AE title" in dialog.messages.text()
    dialog.reject()
    window.close()


@pytest.fixture
def fake_bfloat16(monkeypatch):
    """The CPU check made switchable, and every precision ``Classifier.load`` is asked for recorded."""
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.runtime import precision

    fast = {"value": True}
    monkeypatch.setattr(precision, "cpu_has_fast_bfloat16", lambda: fast["value"])
    loads = []
    real = Classifier.load.__func__

    def load(cls, path=None, batch_size=16, precision="float32"):
        loads.append(precision)
        return real(cls, path, batch_size, precision)

    monkeypatch.setattr(Classifier, "load", classmethod(load))
    return fast, loads


def test_bfloat16_is_offered_only_where_the_core_and_cpu_support_it_and_reloads_the_model(
        qtbot, qapp, tiny_model, fake_bfloat16, shots):
    from pneumonet_gui.main_window import MainWindow
    from pneumonet_gui.preferences import PRECISION_KEY, fast_bfloat16_available, open_preferences, saved_precision

    fast, loads = fake_bfloat16
    window = MainWindow(model=tiny_model)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    assert loads == ["float32"] or loads == []  # the first load: the core's default
    dialog = open_preferences(window)
    assert dialog.inference.isVisibleTo(dialog) and not dialog.bfloat16_box.isChecked()
    assert dialog.bfloat16_box.text() == "Use bfloat16 inference (faster on this CPU)"
    dialog.bfloat16_box.setChecked(True)
    for _ in range(5):
        qapp.processEvents()
    assert dialog.grab().save(str(shots / "preferences.png"))
    with qtbot.waitSignal(window.active_model.loaded, timeout=WAIT_MS):
        dialog.accept()  # the model reloads in bfloat16
    assert loads[-1] == "bfloat16" and window.settings.value(PRECISION_KEY) == "bfloat16"
    assert saved_precision(window.settings) == "bfloat16"

    fast["value"] = False  # a CPU without native bfloat16: no option, and the saved choice is not used
    assert not fast_bfloat16_available() and saved_precision(window.settings) is None
    dialog = open_preferences(window)
    assert not dialog.inference.isVisibleTo(dialog)
    dialog.reject()
    window.close()


def test_a_flagged_study_is_withheld_and_marked_and_a_failed_one_says_why(qapp):
    from pneumonet_core.dicom_node import events as ev
    from pneumonet_gui.worklist.table_model import OOD, WorklistTableModel

    def study(uid: str) -> ev.StudyInfo:
        return ev.StudyInfo(uid, patient_name=f"Child, {uid}", patient_id=f"ID-{uid}")

    model = WorklistTableModel()
    model.apply([ev.NodeEvent(ev.RECEIVED, "k1", study("knee")), ev.NodeEvent(ev.RECEIVED, "k2", study("chest")),
                 ev.NodeEvent(ev.RECEIVED, "k3", study("broken")),
                 ev.NodeEvent(ev.ANSWERED, "k1", study("knee"), ev.Outcome(0.97, "PNEUMONIA", 0.5, True, 2.5,
                                                                          "not a chest film")),
                 ev.NodeEvent(ev.ANSWERED, "k2", study("chest"), ev.Outcome(0.40, "NORMAL", 0.5)),
                 ev.NodeEvent(ev.FAILED, "k3", study("broken"), reason="no pixel data"),
                 ev.NodeEvent(ev.RECEIVED, "k4", study("hand")), ev.NodeEvent(ev.RECEIVED, "k5", study("lobar")),
                 ev.NodeEvent(ev.ANSWERED, "k4", study("hand"), ev.Outcome(0.01, "NORMAL", 0.5, True, 4.0, "a hand")),
                 ev.NodeEvent(ev.ANSWERED, "k5", study("lobar"), ev.Outcome(0.90, "PNEUMONIA", 0.5))])
    text = {model.rows[r].study_uid: [model.index(r, c).data() for c in range(model.columnCount())]
            for r in range(model.rowCount())}
    assert [text["knee"][c] for c in (PROBABILITY, DECISION, OOD)] == ["withheld", "withheld",
                                                                      "\u26a0 not a chest film"]
    assert [text["chest"][c] for c in (PROBABILITY, DECISION, OOD)] == ["0.4000", "No pneumonia found", ""]
    assert text["broken"][STATUS] == "failed: no pixel data"
    assert not any("0.97" in t or "0.01" in t for t in text["knee"] + text["hand"])
    # the core's triage order: PNEUMONIA, then withheld by arrival (not by 0.97 / 0.01), then NORMAL
    assert [r.study_uid for r in model.rows] == ["lobar", "knee", "hand", "chest", "broken"]
