"""File ▸ Preferences…: the DICOM listener's settings and, where this CPU supports it, bfloat16 inference.

The listener settings (port, AE title, storage folder, calls from other computers) are the
ones the Worklist panel starts ``pneumonet listen``'s listener with
(:mod:`pneumonet_gui.worklist.node_settings`). "Use bfloat16 inference" appears only when
this CPU computes bfloat16 natively (``pneumonet_core.runtime.precision.cpu_has_fast_bfloat16``);
elsewhere bfloat16 would be slower than float32, so the option is not shown. Changing it
reloads the model in the background.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from pneumonet_gui.extensions import Extension, WindowHost, open_once
from pneumonet_gui.wizard.common import FolderField, MessageLabel
from pneumonet_gui.worklist import node_settings

PRECISION_KEY = "inference/precision"
BFLOAT16, FLOAT32 = "bfloat16", "float32"


def fast_bfloat16_available() -> bool:
    """True when this CPU computes bfloat16 natively, so bfloat16 inference is faster."""
    from pneumonet_core.runtime.precision import cpu_has_fast_bfloat16

    return cpu_has_fast_bfloat16()


def saved_precision(settings) -> str | None:
    """The precision the user chose, when it can be used here; None: the core's default (float32)."""
    return BFLOAT16 if str(settings.value(PRECISION_KEY, "")) == BFLOAT16 and fast_bfloat16_available() else None


class PreferencesDialog(QDialog):
    """Edits ``settings`` (the viewer's QSettings); emits what changed when accepted."""

    listenerChanged = Signal()
    #: "bfloat16" or "float32".
    precisionChanged = Signal(str)

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Preferences \u2014 Pneumonet")
        self.resize(640, 360)
        node = node_settings.load(settings)

        listener = QGroupBox("DICOM listener (Worklist)")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setValue(node.port)
        self.port_spin.setToolTip("TCP port the listener accepts calls on (0 picks a free one)")
        self.ae_edit = QLineEdit(node.ae_title)
        self.ae_edit.setMaxLength(16)
        self.ae_edit.setToolTip("Pneumonet's AE title: modalities and PACS call it by this name")
        self.folder = FolderField("Where the listener keeps received images and its answers")
        self.folder.edit.setPlaceholderText(str(node_settings.default_folder()))
        self.folder.edit.setText(str(node.folder) if node.folder else "")
        self.folder.chosen.connect(self.folder.edit.setText)
        self.remote_box = QCheckBox("Accept calls from other computers (off: this computer only)")
        self.remote_box.setChecked(node.accept_remote)
        self.allowed_edit = QLineEdit(" ".join(node.allowed_aes))
        self.allowed_edit.setPlaceholderText("e.g. CR01 PACS (needed for calls from other computers)")
        self.allowed_edit.setToolTip("Calling AE titles allowed to send images, separated by spaces or commas")
        form = QFormLayout(listener)
        form.addRow("Port", self.port_spin)
        form.addRow("AE title", self.ae_edit)
        form.addRow("Storage folder", self.folder)
        form.addRow("", self.remote_box)
        form.addRow("Allowed callers", self.allowed_edit)
        note = QLabel("The storage folder keeps every image as it arrived: it holds patient data. A running "
                      "listener uses new settings after Stop and Start.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        form.addRow("", note)

        self.inference = QGroupBox("Inference")
        self.bfloat16_box = QCheckBox("Use bfloat16 inference (faster on this CPU)")
        self.bfloat16_box.setToolTip("Runs the model in mixed bfloat16 on this CPU's native bfloat16 instructions; "
                                     "probabilities may differ slightly from float32")
        self.bfloat16_box.setChecked(str(settings.value(PRECISION_KEY, "")) == BFLOAT16)
        QVBoxLayout(self.inference).addWidget(self.bfloat16_box)
        self.inference.setVisible(fast_bfloat16_available())

        self.messages = MessageLabel()
        self.messages.setVisible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(listener)
        layout.addWidget(self.inference)
        layout.addWidget(self.messages)
        layout.addStretch(1)
        layout.addWidget(buttons)

    def node(self) -> node_settings.NodeSettings:
        """The listener settings as typed, checked (ValueError with one line when wrong)."""
        folder = self.folder.text()
        return node_settings.NodeSettings(self.port_spin.value(), self.ae_edit.text(),
                                          Path(folder) if folder else None,
                                          self.remote_box.isChecked(),
                                          tuple(node_settings.parse_titles(self.allowed_edit.text()))).checked()

    def accept(self) -> None:
        try:
            node = self.node()
        except ValueError as exc:
            self.messages.show_messages(str(exc), refusal_title="Cannot save:")
            return
        if node != node_settings.load(self.settings):
            node_settings.save(self.settings, node)
            self.listenerChanged.emit()
        if self.inference.isVisibleTo(self):
            precision = BFLOAT16 if self.bfloat16_box.isChecked() else FLOAT32
            if precision != (str(self.settings.value(PRECISION_KEY, "")) or FLOAT32):
                self.settings.setValue(PRECISION_KEY, precision)
                self.settings.sync()
                self.precisionChanged.emit(precision)
        super().accept()


def open_preferences(window: WindowHost) -> PreferencesDialog:
    """Show the Preferences over the window; a new precision reloads the model, new listener settings show."""

    def changed_precision(precision: str) -> None:
        window.active_model.precision = precision if precision == BFLOAT16 else None
        if window.active_model.state != "loading":
            window.active_model.reload()

    def make() -> PreferencesDialog:
        dialog = PreferencesDialog(window.settings, window)
        dialog.precisionChanged.connect(changed_precision)
        worklist = window.extensions.get("worklist")
        panel = worklist.widget if worklist is not None else None
        if panel is not None:
            dialog.listenerChanged.connect(lambda: panel.running or panel.refresh_state())
        return dialog

    return open_once(window, "preferences_dialog", make)


def attach_to_main_window(window: WindowHost) -> None:
    """File ▸ Preferences…, and the saved precision for the model's first load."""
    window.active_model.precision = saved_precision(window.settings)
    action = QAction("&Preferences\u2026", window)
    action.setShortcut(QKeySequence(QKeySequence.StandardKey.Preferences))
    action.setToolTip("The DICOM listener's port, AE title and folder; inference options")
    action.triggered.connect(lambda _checked=False: open_preferences(window))
    window.add_file_action(action, "quit")
    window.extensions["preferences"] = Extension(action=action)
