"""The desktop viewer's commands, driven through the real window (offscreen Qt, pytest-qt):
opening files (menu, drop, recent files), the model menu and switching models, exporting the
report, dropping several files, extra panels, and the scripted runs (--screenshot, --selftest,
the app entry point). A tiny untrained CNN stands in for the real model; fixtures:
tests/gui_viewer_support.py. Screenshots go to ``$PNEUMONET_SCREENSHOTS`` (or the test's tmp folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from pneumonet_cli.main import main as cli_main
from tests.gui_viewer_support import (  # noqa: F401 - fixtures
    WAIT_MS,
    images,
    make_window,
    open_and_wait,
    tiny_model,
)
from tests.helpers import make_tiny_model

# User settings, models and the viewer's INI file live in the test's folder.
pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


# --- opening files -------------------------------------------------------------------------


def test_open_by_menu_drop_and_recent_files(make_window, qtbot, images, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(images["a"]), ""))
    window.commands.open_action.trigger()  # Ctrl+O
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["a"] and window.current.ok

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images["b"]))])
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["b"] and window.current.ok

    assert window.recent.paths()[:2] == [images["b"].resolve(), images["a"].resolve()]
    window.commands.rebuild_recent_menu()
    names = [a.text() for a in window.commands.recent_menu.actions()]
    assert names[:2] == [images["b"].name, images["a"].name]
    window.commands.recent_menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["a"].resolve()

    # Recent files are remembered across windows (QSettings in PNEUMONET_HOME).
    window.close()
    again = make_window()
    assert again.recent.paths()[0] == images["a"].resolve()


# --- the model menu ------------------------------------------------------------------------


def test_model_menu_shows_the_card_and_switches_models(make_window, qtbot, tmp_path, tiny_model, isolated_home):
    from pneumonet_core.models.registry import active_model_path, install_user_model

    other = make_tiny_model(tmp_path / "other.pneumonet", seed=1, name="other-tiny-cnn")
    installed = install_user_model(other)
    window = make_window()
    qtbot.waitUntil(lambda: window.active_model.state == "ready", timeout=WAIT_MS)
    assert window.model_menu.active_action.text().startswith("Active: tiny-test-cnn (version 1)")

    window.model_menu.card_action.trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.commands.dialogs), timeout=WAIT_MS)
    card_text = window.commands.dialogs[-1].text.toPlainText()
    assert "tiny-test-cnn version 1" in card_text and "OPERATING THRESHOLD" in card_text
    window.commands.dialogs[-1].close()

    window.model_menu.rebuild_switch_menu()
    entries = {a.text(): a for a in window.model_menu.switch_menu.actions()}
    assert "other-tiny-cnn (version 1, yours)" in entries
    entries["other-tiny-cnn (version 1, yours)"].trigger()
    qtbot.waitUntil(lambda: window.model_card is not None and window.model_card.name == "other-tiny-cnn",
                    timeout=WAIT_MS)
    assert active_model_path() == installed.resolve()  # remembered as the active model
    assert window.status_fields.model.text() == "Model: other-tiny-cnn v1"
    window.model_menu.rebuild_switch_menu()
    checked = [a.text() for a in window.model_menu.switch_menu.actions() if a.isChecked()]
    assert checked == ["other-tiny-cnn (version 1, yours)"]
    # The slots the model manager and the training wizard connect to exist.
    assert window.model_menu.manage_action in window.model_menu.actions()
    assert window.model_menu.train_action in window.model_menu.actions()


def test_changing_the_model_reclassifies_the_open_scan(make_window, qtbot, tmp_path, images):
    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    first = window.current.result
    other = make_tiny_model(tmp_path / "other.pneumonet", seed=3, name="other-tiny-cnn")
    window.set_model(other)
    qtbot.waitUntil(lambda: window.model_card is not None and window.model_card.name == "other-tiny-cnn"
                    and window.current.ok and window.current.heatmap is not None, timeout=WAIT_MS)
    assert window.current.result.probability != first.probability
    assert "other-tiny-cnn" in window.result_panel.model.text()


def test_export_report_says_when_it_is_not_available(make_window, qtbot, images, monkeypatch):
    monkeypatch.setitem(sys.modules, "pneumonet_core.reports.study_pdf", None)  # import fails
    monkeypatch.delattr("pneumonet_core.reports.study_pdf", raising=False)  # even after another test imported it
    window = make_window()
    assert window.commands.export_action in window.file_menu.actions()
    assert window.export_report() is None
    assert "not available" in window.info_banner.text()


def test_export_report_writes_the_study_pdf(make_window, qtbot, images, tmp_path):
    import pneumonet_core.reports.study_pdf  # noqa: F401 (a broken import fails here, it is not skipped)
    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    out = window.export_report(tmp_path / "study.pdf")
    assert out is not None and out.read_bytes()[:5] == b"%PDF-"
    assert "Report saved" in window.statusBar().currentMessage()


def test_export_report_asks_where_and_offers_identifiers_unticked_every_time(make_window, qtbot, images, tmp_path,
                                                                            monkeypatch):
    from pneumonet_gui.export_dialog import ExportDialog

    window = make_window()
    open_and_wait(qtbot, window, images["a"])
    seen = []

    def answer(dialog):
        seen.append(dialog.include_identifiers)
        dialog.path_edit.setText(str(tmp_path / f"asked-{len(seen)}.pdf"))
        dialog.identifiers_box.setChecked(True)  # ticked for this export only
        return True

    monkeypatch.setattr(ExportDialog, "exec", answer)
    assert window.export_report() == tmp_path / "asked-1.pdf"
    assert window.export_report() == tmp_path / "asked-2.pdf"
    assert seen == [False, False]  # the box starts unticked each time the dialog opens


def test_dropping_several_files_opens_the_first_and_offers_all(make_window, qtbot, images):
    window = make_window()
    offered = []
    window.filesDropped.connect(offered.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images[k])) for k in ("b", "a")])
    window.dropEvent(QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.current.done, timeout=WAIT_MS)
    assert window.current.path == images["b"] and window.current.ok
    assert offered == [[images["b"], images["a"]]]


def test_add_panel_adds_a_dock(make_window):
    from PySide6.QtWidgets import QLabel

    window = make_window()
    dock = window.add_panel(QLabel("batch results"), "Batch")
    assert dock.windowTitle() == "Batch" and dock.widget().text() == "batch results"
    assert dock.toggleViewAction() in window.view_menu.actions()


# --- scripted runs -------------------------------------------------------------------------


def test_screenshot_command_saves_the_window_with_result_and_heat_map(qtbot, capsys, tiny_model, images, shots):
    out = shots / "viewer-cli-screenshot.png"
    if out.exists():
        out.unlink()
    code = cli_main(["gui", str(images["a"]), "--model", str(tiny_model), "--screenshot", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.exists() and out.stat().st_size > 20_000
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1440, 900)
    assert images["a"].name in captured.out


def test_screenshot_command_fails_with_the_reason_for_a_bad_file(qtbot, capsys, tiny_model, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    code = cli_main(["gui", str(bad), "--model", str(tiny_model), "--screenshot", str(tmp_path / "s.png")])
    assert code != 0
    assert "broken.png" in capsys.readouterr().err


def test_selftest(qtbot, capsys, tiny_model):
    code = cli_main(["gui", "--selftest", "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("selftest ok: model tiny-test-cnn")


def test_selftest_training_loads_the_model_with_tensorflow_too(qtbot, capsys, tiny_model):
    """The packaged app's check of its training part (in a venv TensorFlow is the venv's)."""
    code = cli_main(["gui", "--selftest", "--training", "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    line = captured.out.splitlines()[-1]
    assert line.startswith("selftest training ok: TensorFlow ") and "from the app itself" in line
    assert "tiny-test-cnn on TensorFlow" in line and "Grad-CAM" in line
    assert cli_main(["gui", "--training"]) == 2 and "--training goes with --selftest" in capsys.readouterr().err


def test_selftest_of_a_guarded_model_checks_the_heat_map_of_the_withheld_drawn_film(qtbot, capsys):
    """The bundled CNN's fitted guard withholds the drawn film (no heat map on screen); Grad-CAM still works."""
    bundled_cnn = Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet"
    code = cli_main(["gui", "--selftest", "--model", str(bundled_cnn)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("selftest ok: model pneumonet-cnn") and "heat map 400x480" in captured.out
    assert "withheld by the guard" in captured.out


def test_selftest_fails_for_a_broken_model(qtbot, capsys, tmp_path):
    broken = tmp_path / "broken.pneumonet"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert cli_main(["gui", "--selftest", "--model", str(broken)]) == 1
    assert "selftest FAILED" in capsys.readouterr().err


def test_app_entry_point_opens_the_viewer_or_runs_a_cli_command(monkeypatch, capsys):
    """``pneumonet-gui`` and the frozen app: arguments go to ``pneumonet gui`` unless they name a command."""
    import pneumonet_gui.app as app
    from pneumonet_cli.main import app_entry_point

    calls = []
    monkeypatch.setattr(app, "run_app", lambda **kwargs: calls.append(kwargs) or 0)
    for argv, expected in ((["scan.png", "--model", "m.pneumonet"], {"file": Path("scan.png"), "model": Path("m.pneumonet")}),
                           (["--selftest"], {"selftest": True, "file": None})):
        monkeypatch.setattr(sys, "argv", ["Pneumonet", *argv])
        with pytest.raises(SystemExit) as exit_info:
            app_entry_point()
        assert exit_info.value.code == 0
        assert {k: calls[-1][k] for k in expected} == expected
    monkeypatch.setattr(sys, "argv", ["Pneumonet", "classify", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        app_entry_point()
    assert exit_info.value.code == 0 and "usage: pneumonet classify" in capsys.readouterr().out
    assert len(calls) == 2


def test_the_gui_never_imports_the_cli():
    """The GUI calls pneumonet_core; the CLI starts the GUI, never the other way round."""
    root = Path(__file__).resolve().parents[1] / "pneumonet_gui"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if "import pneumonet_cli" in path.read_text() or "from pneumonet_cli" in path.read_text()]
    assert offenders == []
