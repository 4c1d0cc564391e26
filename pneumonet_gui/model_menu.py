"""The Model menu: which model is active, its card, switching between installed models,
and the slots where model management and training plug in.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QVBoxLayout

from pneumonet_core.errors import PneumonetError
from pneumonet_gui.model_card_view import ModelCardView


class ModelCardDialog(QDialog):
    """The model card as a readable page (raw JSON behind a button), in a non-modal window."""

    def __init__(self, card, path=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Model card \u2014 {card.name}")
        self.resize(980, 760)
        layout = QVBoxLayout(self)
        self.view = ModelCardView()
        self.view.show_card(card, path)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)

    @property
    def text(self):
        """What the dialog shows now (the readable page, or the raw JSON)."""
        return self.view

    def done(self, result: int) -> None:
        """Closing: stop a measurement in progress (its results would have nowhere to go)."""
        self.view.shutdown()
        super().done(result)


class ModelMenu(QMenu):
    """Built once; the list of installed models is re-read each time the submenu opens."""

    #: Switch model: the path of the installed model chosen.
    switchRequested = Signal(object)

    def __init__(self, parent, active_model, show_card, choose_file):
        super().__init__("&Model", parent)
        self._active_model = active_model  # which model is in use, to tick it
        self.active_action = QAction("No model loaded", self)
        self.active_action.setEnabled(False)
        self.card_action = QAction("Model &card\u2026", self)
        self.card_action.setEnabled(False)
        self.card_action.triggered.connect(show_card)
        self.switch_menu = QMenu("&Switch model", self)
        self.switch_menu.aboutToShow.connect(self.rebuild_switch_menu)
        self.open_action = QAction("Use a model &file\u2026", self)
        self.open_action.setToolTip("Load a .pneumonet file for this session (does not install it)")
        self.open_action.triggered.connect(choose_file)
        # Enabled by the model manager and the training wizard (see pneumonet_gui.extensions).
        self.manage_action = QAction("&Manage models\u2026", self)
        self.manage_action.setEnabled(False)
        self.train_action = QAction("&Train a model\u2026", self)
        self.train_action.setEnabled(False)
        self.addAction(self.active_action)
        self.addAction(self.card_action)
        self.addSeparator()
        self.addMenu(self.switch_menu)
        self.addAction(self.open_action)
        self.addSeparator()
        self.addAction(self.manage_action)
        self.addAction(self.train_action)
        self._group = QActionGroup(self)

    def set_active(self, card, path, note: str = "") -> None:
        if card is None:
            self.active_action.setText(note or "No model loaded")
            self.card_action.setEnabled(False)
        else:
            self.active_action.setText(f"Active: {card.name} (version {card.version}){note}")
            self.card_action.setEnabled(True)

    def rebuild_switch_menu(self) -> None:
        from pneumonet_core.models.registry import installed_models

        self.switch_menu.clear()
        self._group = QActionGroup(self)
        try:
            models = installed_models()
        except (PneumonetError, OSError) as exc:
            failed = self.switch_menu.addAction(f"Cannot list models: {exc}")
            failed.setEnabled(False)
            return
        if not models:
            none = self.switch_menu.addAction("No models installed")
            none.setEnabled(False)
            return
        current = self._active_model.path
        current = Path(current).resolve() if current else None
        for model in models:
            where = "bundled" if model.bundled else "yours"
            action = self.switch_menu.addAction(f"{model.card.name} (version {model.card.version}, {where})")
            action.setCheckable(True)
            action.setChecked(current is not None and model.path.resolve() == current)
            action.setToolTip(str(model.path))
            action.setData(str(model.path))
            self._group.addAction(action)
            action.triggered.connect(lambda _checked=False, p=model.path: self.switchRequested.emit(p))
