"""The app's listener settings are closed by default (issue 24, item 4): "Accept calls from other
computers" starts unticked, and the callers allowed are saved with the other settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from pneumonet_gui.worklist import node_settings


def test_calls_from_other_computers_are_off_until_chosen(qtbot, tmp_path):
    from pneumonet_gui.preferences import PreferencesDialog

    settings = QSettings(str(tmp_path / "viewer.ini"), QSettings.Format.IniFormat)
    assert node_settings.load(settings).bind == "127.0.0.1" and node_settings.NodeSettings().bind == "127.0.0.1"
    dialog = PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    assert not dialog.remote_box.isChecked()
    dialog.remote_box.setChecked(True)
    dialog.allowed_edit.setText("CR01, PACS")
    dialog.accept()
    saved = node_settings.load(settings)
    assert saved.accept_remote and saved.bind == "0.0.0.0" and saved.allowed_aes == ("CR01", "PACS")
