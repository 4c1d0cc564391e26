"""The model manager: installed models (bundled and the user's), their cards, which is active.

Switching the active model writes the same setting ``pneumonet models use`` writes, so the
viewer and the command line agree; ``activeModelChanged(path)`` tells the main window to
reload. Only the user's models can be deleted; bundled ones ship with the app. Importing
copies a file of hundreds of megabytes, so it runs in a worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from pneumonet_core.errors import PneumonetError
from pneumonet_core.models import figures, registry
from pneumonet_gui import workers
from pneumonet_gui.extensions import WindowHost, open_once
from pneumonet_gui.model_card_view import ModelCardView
from pneumonet_gui.wizard.common import MessageLabel, heading

STAR = "\u2605 "


class ModelManagerDialog(QDialog):
    """Lists installed models; Use, Delete, Import, and back to the bundled default."""

    activeModelChanged = Signal(str)  # path of the model now active ("" when none can be found)
    trainRequested = Signal()
    importFinished = Signal(str)  # the installed copy's path, "" when the import failed

    def __init__(self, parent=None, can_train: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Manage models \u2014 Pneumonet")
        self.resize(980, 560)
        self.models: list[registry.InstalledModel] = []

        self.list = QListWidget()
        self.list.setMinimumWidth(300)
        self.list.setSpacing(3)
        self.list.currentRowChanged.connect(self._show_current)
        self.card_view = ModelCardView()
        self.messages = MessageLabel()

        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Make it the active model for the viewer and \u201cpneumonet\u201d commands")
        self.use_button.clicked.connect(self.use_selected)
        self.default_button = QPushButton("Use the bundled default")
        self.default_button.clicked.connect(self.use_default)
        self.delete_button = QPushButton("Delete\u2026")
        self.delete_button.clicked.connect(self.delete_selected)
        self.calibrate_button = QPushButton("Calibrate to local data\u2026")
        self.calibrate_button.setToolTip("Fit this model's calibration and threshold to your site's labelled films; "
                                         "installs a new model beside it")
        self.calibrate_button.clicked.connect(lambda: self.calibrate_selected())
        self.calibrate_dialog = None
        self.import_button = QPushButton("Import a model file\u2026")
        self.import_button.clicked.connect(self.import_file)
        self.train_button = QPushButton("Train a model\u2026")
        self.train_button.clicked.connect(self._train)
        self.train_button.setVisible(can_train)

        buttons = QHBoxLayout()
        for button in (self.use_button, self.default_button, self.delete_button, self.calibrate_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.train_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(heading("Installed models"))
        left_layout.addWidget(self.list, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(heading("Model card"))
        right_layout.addWidget(self.card_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        self.folder_label = QLabel()
        self.folder_label.setObjectName("muted")
        self.folder_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.messages)
        bottom = QHBoxLayout()
        bottom.addWidget(self.folder_label, 1)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        self.refresh()

    # --- listing ------------------------------------------------------------------------

    def refresh(self, select: Path | None = None) -> None:
        """Re-read the installed models; keep (or move to) the selection."""
        current = select or (self.selected.path if self.selected else None)
        try:
            self.models = registry.installed_models()
        except (PneumonetError, OSError) as exc:
            self.models = []
            self._error(f"cannot list the models: {exc}")
        self.list.clear()
        # Keep the selection; at first, show the active model's card.
        row = next((i for i, m in enumerate(self.models) if m.active), 0) if current is None else 0
        for i, model in enumerate(self.models):
            kind = "bundled" if model.bundled else "yours"
            auc = model.card.metrics.get("roc_auc")
            independent = figures.ranking_value(model.card)  # patients outside the training split lead
            text = (f"{STAR if model.active else ''}{model.card.name}\n"
                    f"    {model.card.approach}, {kind}, independent AUC "
                    f"{'n/a' if independent is None else f'{independent:.3f}'} \u00b7 held-out AUC "
                    f"{'n/a' if auc is None else f'{auc:.3f}'}")
            item = QListWidgetItem(text)
            item.setToolTip(str(model.path))
            if model.active:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
            if current is not None and model.path.resolve() == Path(current).resolve():
                row = i
        if self.models:
            self.list.setCurrentRow(row)
        else:
            self.card_view.show_message("No models installed. Train one, or import a .pneumonet file.")
        self._update_buttons()
        self.folder_label.setText(f"Your models: {registry.user_models_dir()}")
        notes = []
        if os.environ.get("PNEUMONET_MODEL"):
            notes.append(f"PNEUMONET_MODEL is set ({os.environ['PNEUMONET_MODEL']}) and overrides the choice "
                         "made here.")
        if not any(m.active for m in self.models):
            notes.append("No installed model is active." if self.models else "")
        self.messages.show_messages(notes=[n for n in notes if n])

    @property
    def selected(self) -> registry.InstalledModel | None:
        row = self.list.currentRow()
        return self.models[row] if 0 <= row < len(self.models) else None

    def select_path(self, path) -> bool:
        for i, model in enumerate(self.models):
            if model.path.resolve() == Path(path).resolve():
                self.list.setCurrentRow(i)
                return True
        return False

    def _show_current(self, _row: int) -> None:
        model = self.selected
        if model is not None:
            where = "Bundled with the app (cannot be deleted)" if model.bundled else "In your model folder"
            banner = [where]
            if model.active:
                banner.insert(0, "\u2605 Active model for the viewer and the command line")
            self.card_view.show_card(model.card, model.path, banner)
        self._update_buttons()

    def _update_buttons(self) -> None:
        model = self.selected
        self.use_button.setEnabled(model is not None and not model.active)
        self.delete_button.setEnabled(model is not None and not model.bundled)
        self.calibrate_button.setEnabled(model is not None)
        self.delete_button.setToolTip("Bundled models cannot be deleted" if model is not None and model.bundled else
                                      "Delete this model file from your model folder")
        try:
            registry.bundled_default_path()
            has_default = True
        except PneumonetError:
            has_default = False
        self.default_button.setEnabled(has_default and "active_model" in registry.read_settings())

    # --- actions ------------------------------------------------------------------------

    def use_selected(self) -> None:
        model = self.selected
        if model is None:
            return
        self._set_active(model.path)

    def use_default(self) -> None:
        self._set_active(None)

    def _set_active(self, path: Path | None) -> None:
        try:
            registry.set_active_model(path)
            active = registry.active_model_path()
        except (PneumonetError, OSError) as exc:
            self._error(f"could not change the active model: {exc}")
            return
        self.refresh(select=path or active)
        self.activeModelChanged.emit(str(active))

    def calibrate_selected(self):
        """Open "Calibrate to local data…" for the selected model; it installs a new model, never activates it."""
        from pneumonet_gui.calibrate_dialog import CalibrateDialog

        model = self.selected
        if model is None:
            return None
        if self.calibrate_dialog is not None:
            self.calibrate_dialog.close()
        dialog = self.calibrate_dialog = CalibrateDialog(model.path, model.card, self)
        dialog.installed.connect(lambda path: self.refresh(select=Path(path)))
        dialog.activateRequested.connect(lambda path: self._set_active(Path(path)))
        dialog.show()
        return dialog

    def _error(self, text: str) -> None:
        self.messages.show_messages(text, refusal_title="")

    def done(self, result: int) -> None:
        """Closing (Close, Esc, the window's button): stop the card's measurement and a calibration."""
        self.card_view.shutdown()
        if self.calibrate_dialog is not None:
            self.calibrate_dialog.close()
        super().done(result)

    def delete_selected(self) -> None:
        model = self.selected
        if model is None or model.bundled:
            return
        answer = QMessageBox.question(
            self, "Delete model", f"Delete {model.card.name}?\n\n{model.path}\n\nThis cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        was_active = model.active
        try:
            registry.delete_user_model(model.path)
        except (PneumonetError, OSError) as exc:
            self._error(f"could not delete the model: {exc}")
            return
        self.refresh()
        if was_active:
            try:
                active = str(registry.active_model_path())
            except PneumonetError:
                active = ""
            self.activeModelChanged.emit(active)

    def import_file(self, path=None) -> workers.Worker | None:
        """Copy a .pneumonet file into the user's folder in a worker (after checking it is a model).

        :attr:`importFinished` gives the installed copy's path, or "" when the import failed.
        """
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "Pneumonet models (*.pneumonet)")
            if not path:
                return None
        self.import_button.setEnabled(False)
        self.messages.show_messages(notes=[f"Importing {Path(path).name}\u2026"])
        return workers.start(registry.install_user_model, Path(path), _error_path=path,
                             _connect={"returned": self._imported, "failed": self._import_failed})

    def _imported(self, target: Path) -> None:
        self.import_button.setEnabled(True)
        self.refresh(select=target)
        self.importFinished.emit(str(target))

    def _import_failed(self, message: str) -> None:
        self.import_button.setEnabled(True)
        self._error(f"could not import the model: {message}")
        self.importFinished.emit("")

    def _train(self) -> None:
        self.trainRequested.emit()
        self.accept()


def open_model_manager(window: WindowHost) -> ModelManagerDialog:
    """Show the manager over the viewer; switching the active model reloads the viewer's model."""

    def make() -> ModelManagerDialog:
        from pneumonet_gui.wizard import open_training_wizard

        dialog = ModelManagerDialog(window, can_train=True)
        dialog.activeModelChanged.connect(lambda path: window.set_model(path or None))
        dialog.trainRequested.connect(lambda: open_training_wizard(window))
        return dialog

    return open_once(window, "model_manager", make, on_existing=ModelManagerDialog.refresh)


def attach_to_main_window(window: WindowHost) -> None:
    """Enable Model -> Manage models... (called by the main window for its extensions)."""
    action = window.model_menu.manage_action
    action.setEnabled(True)
    action.setToolTip("See installed models and their cards; choose the active one; delete your own")
    action.triggered.connect(lambda _checked=False: open_model_manager(window))
