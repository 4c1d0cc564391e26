"""Page 7, Save: name the model, install it in the user's model folder, optionally make it active.

"Make it the active model" starts unchecked on every visit: the user decides, after the
comparison page, and a new model the comparison found worse says so here again.

Until this page's Finish, the model exists only in the training run's temporary folder.
Saving copies it with :func:`registry.install_user_model`, then rewrites the copy's card
(name, and the held-out ROC curve the evaluation page measured); the content hash is
unchanged because the card is not part of it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWizardPage

from pneumonet_core.errors import PneumonetError
from pneumonet_gui.banner import Banner
from pneumonet_gui.wizard.common import MessageLabel


class SavePage(QWizardPage):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Save the model")
        self.setSubTitle("Install the model in your model folder. It then appears in Model \u2192 Manage models "
                         "and in \u201cpneumonet models\u201d.")
        self.saved_path: Path | None = None
        self.name_edit = QLineEdit()
        self.name_edit.textChanged.connect(lambda: self.completeChanged.emit())
        self.active_check = QCheckBox("Make it the active model for the viewer and the command line")
        self.active_check.setChecked(False)
        self.folder_label = QLabel()
        self.folder_label.setObjectName("muted")
        self.folder_label.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.messages = MessageLabel()
        self.worse_banner = Banner("error")
        form = QFormLayout()
        form.addRow("Model name", self.name_edit)
        form.addRow("", self.active_check)
        layout = QVBoxLayout(self)
        layout.addWidget(self.worse_banner)
        layout.addLayout(form)
        layout.addWidget(self.folder_label)
        layout.addSpacing(8)
        layout.addWidget(self.summary)
        layout.addWidget(self.messages)
        layout.addStretch(1)

    def initializePage(self) -> None:
        from pneumonet_core.models.registry import user_models_dir

        wizard = self.wizard()
        card = wizard.evaluation_page.result["card"]
        self.saved_path = None
        self.name_edit.setText(card.name)
        self.folder_label.setText(f"It will be saved in {user_models_dir()}")
        m = wizard.evaluation_page.result["metrics"]
        auc = "n/a" if m.get("roc_auc") is None else f"{m['roc_auc']:.3f}"
        self.summary.setText(
            f"{card.approach} ({card.backbone}), threshold {card.threshold:.4f}; on held-out patients: "
            f"ROC AUC {auc}, sensitivity {_f(m.get('sensitivity'))}, specificity {_f(m.get('specificity'))}. "
            f"Content hash {card.short_hash}.")
        self.active_check.setChecked(False)
        worse = wizard.comparison_page.warnings
        self.worse_banner.set_lines(["The comparison found the new model worse than the active one:"] + worse
                                    if worse else [])
        self.messages.show_messages()

    def isComplete(self) -> bool:
        return bool(self.name_edit.text().strip())

    def validatePage(self) -> bool:
        """Finish: install the model (and make it active if asked); stay on the page on failure."""
        try:
            self.saved_path = self.save()
        except (PneumonetError, OSError) as exc:
            self.messages.show_messages(f"could not save the model: {exc}")
            return False
        return True

    def save(self) -> Path:
        from pneumonet_core.models import registry
        from pneumonet_core.models.package import read_card, update_card

        wizard = self.wizard()
        name = self.name_edit.text().strip()
        target = registry.install_user_model(wizard.trained_model_path, name)
        try:
            card = read_card(target)
            card.name = name
            roc = wizard.evaluation_page.roc_points()
            if roc is not None:
                # card.metrics holds scalars measured by the trainer; the curve is the one the
                # evaluation page showed (``pneumonet evaluate --held-out``), kept for reports.
                card.metrics["roc_curve"] = roc
            update_card(target, card)
            if self.active_check.isChecked():
                registry.set_active_model(target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
