"""Page 3, Approach: custom CNN, transfer learning or fine-tuning, the backbone weights, the
hyper-parameters, and how long the run will take on this machine.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from pneumonet_core.data.report import estimate_training_time, format_duration
from pneumonet_core.models.architectures import APPROACH_BY_KEY, APPROACH_LIST, APPROACHES, Architecture
from pneumonet_core.training.config import TrainConfig
from pneumonet_gui.wizard.common import MessageLabel

WEIGHT_SOURCES = (
    ("imagenet", "ImageNet (needs an internet connection the first time)"),
    ("file", "A local Keras weights file"),
    ("model", "An installed Pneumonet model"),
    ("none", "None: random initialisation"),
)
THRESHOLD_RULES = (("youden", "Youden's J (balances sensitivity and specificity)"),
                   ("sensitivity>=0.95", "Sensitivity at least 0.95 (fewer missed pneumonias)"))


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


class ApproachPage(QWizardPage):
    """The approach, its backbone weights and the run's options, with ``TrainConfig``'s defaults.

    What depends on the approach (the backbone's name, its blocks to unfreeze, which
    installed models can seed it) is read from its :class:`Architecture`, so a new
    architecture needs no change here.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.approaches = APPROACHES
        self.setTitle("Approach")
        self.setSubTitle("How the model learns. Every approach ends with the same evaluation on held-out patients.")
        defaults = TrainConfig()  # the one definition of every option's default
        self.messages = MessageLabel()
        left = QVBoxLayout()
        left.addWidget(self._build_approach_box())
        left.addWidget(self._build_weights_box())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._build_params_box(defaults))
        right.addWidget(self._build_estimate_box())
        right.addWidget(self.messages)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        self._approach_changed()

    def _build_approach_box(self) -> QGroupBox:
        self.approach_group = QButtonGroup(self)
        approach_box = QGroupBox("Approach")
        approach_layout = QVBoxLayout(approach_box)
        self.approach_buttons: dict[str, QRadioButton] = {}
        for i, approach in enumerate(APPROACHES):
            # "Title: explanation." -> a radio button and the sentence under it.
            title, _, sentence = APPROACH_BY_KEY[approach].description.partition(": ")
            button = QRadioButton(title if sentence else APPROACH_BY_KEY[approach].title)
            text = QLabel((sentence[:1].upper() + sentence[1:]) if sentence else title)
            text.setObjectName("muted")
            text.setWordWrap(True)
            text.setContentsMargins(24, 0, 0, 4)
            self.approach_group.addButton(button, i)
            self.approach_buttons[approach] = button
            approach_layout.addWidget(button)
            approach_layout.addWidget(text)
        self.approach_buttons[APPROACHES[0]].setChecked(True)
        self.approach_group.idToggled.connect(lambda _id, on: on and self._approach_changed())
        return approach_box

    def _build_weights_box(self) -> QGroupBox:
        """Backbone weights (approaches on a pretrainable architecture only)."""
        self.weights_combo = QComboBox()
        for key, text in WEIGHT_SOURCES:
            self.weights_combo.addItem(text, key)
        self.weights_combo.currentIndexChanged.connect(self._weights_changed)
        self.weights_file = QLineEdit()
        self.weights_file.textChanged.connect(lambda: self.completeChanged.emit())
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse_weights)
        self.file_row = QWidget()
        file_layout = QHBoxLayout(self.file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        file_layout.addWidget(self.weights_file, 1)
        file_layout.addWidget(browse)
        self.model_combo = QComboBox()
        self.weights_note = QLabel()
        self.weights_note.setObjectName("muted")
        self.weights_note.setWordWrap(True)
        self.weights_box = QGroupBox("Backbone weights")
        weights_layout = QVBoxLayout(self.weights_box)
        for widget in (self.weights_combo, self.file_row, self.model_combo, self.weights_note):
            weights_layout.addWidget(widget)
        return self.weights_box

    def _build_params_box(self, defaults: TrainConfig) -> QGroupBox:
        self.epochs_spin = _spin(1, 500, defaults.epochs)
        self.batch_spin = _spin(1, 512, defaults.batch_size)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(0.000001, 0.1)
        self.lr_spin.setSingleStep(0.0001)
        self.augment_check = QCheckBox("Augmentation (small rotations, zoom, shifts, brightness and contrast)")
        self.augment_check.setChecked(defaults.augment)
        # The range follows the approach's architecture (see _approach_changed).
        self.unfreeze_spin = _spin(0, max(len(a.arch.blocks) for a in APPROACH_LIST), 0)
        self.unfreeze_all = QCheckBox("all")
        self.unfreeze_all.toggled.connect(lambda on: self.unfreeze_spin.setEnabled(not on))
        if defaults.unfreeze == "all":
            self.unfreeze_all.setChecked(True)
        else:
            self.unfreeze_spin.setValue(int(defaults.unfreeze))
        self.unfreeze_row = QWidget()
        unfreeze_layout = QHBoxLayout(self.unfreeze_row)
        unfreeze_layout.setContentsMargins(0, 0, 0, 0)
        unfreeze_layout.addWidget(self.unfreeze_spin)
        unfreeze_layout.addWidget(self.unfreeze_all)
        unfreeze_layout.addStretch(1)
        self.width_spin = _spin(4, 128, defaults.cnn_width)
        self.width_spin.setToolTip("Filters of the first convolution block; the later blocks have 2x and 4x")
        self.patience_spin = _spin(1, 200, defaults.patience)
        self.patience_spin.setSuffix(" epochs without gain")
        self.rule_combo = QComboBox()
        for key, text in THRESHOLD_RULES:
            self.rule_combo.addItem(text, key)
        params_box = QGroupBox("Training")
        self.form = QFormLayout(params_box)
        for label, field in (("Epochs", self.epochs_spin), ("Batch size", self.batch_spin),
                             ("Learning rate", self.lr_spin), ("CNN width", self.width_spin),
                             ("Blocks to unfreeze", self.unfreeze_row), ("Early stop after", self.patience_spin),
                             ("Threshold rule", self.rule_combo), ("", self.augment_check)):
            self.form.addRow(label, field)
        for widget in (self.epochs_spin, self.width_spin):
            widget.valueChanged.connect(self._update_estimate)
        return params_box

    def _build_estimate_box(self) -> QGroupBox:
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.estimate_basis = QLabel()
        self.estimate_basis.setObjectName("muted")
        self.estimate_basis.setWordWrap(True)
        estimate_box = QGroupBox("Estimated time")
        estimate_layout = QVBoxLayout(estimate_box)
        estimate_layout.addWidget(self.estimate_label)
        estimate_layout.addWidget(self.estimate_basis)
        return estimate_box

    # --- reactions ----------------------------------------------------------------------

    @property
    def approach(self) -> str:
        return self.approaches[self.approach_group.checkedId()]

    @property
    def architecture(self) -> Architecture:
        """The network the chosen approach trains (its backbone, for transfer and fine-tuning)."""
        return APPROACH_BY_KEY[self.approach].arch

    def set_approach(self, approach: str) -> None:
        self.approach_buttons[approach].setChecked(True)

    def _approach_changed(self) -> None:
        approach, arch = self.approach, self.architecture
        pretrained = arch.pretrained
        self.weights_box.setEnabled(pretrained)
        unused = f" (not used: the {arch.display_name} starts from random weights)"
        self.weights_box.setTitle("Backbone weights" + ("" if pretrained else unused))
        self.weights_file.setPlaceholderText(f"{arch.display_name} weights file (.h5 / .weights.h5)")
        if arch.blocks:  # an architecture without blocks hides the row; keep the user's value for later
            self.unfreeze_spin.setMaximum(len(arch.blocks))
        self._set_row_visible(self.width_spin, not pretrained)
        self._set_row_visible(self.unfreeze_row, approach == "finetune")
        self.lr_spin.setValue(self._options_preview().resolved_learning_rate())
        self._weights_changed()
        self._update_estimate()

    def _set_row_visible(self, field: QWidget, visible: bool) -> None:
        self.form.setRowVisible(field, visible)

    def _weights_changed(self) -> None:
        source = self.weights_combo.currentData()
        self.file_row.setVisible(source == "file")
        self.model_combo.setVisible(source == "model")
        if source == "model":
            self._fill_models()
        name = self.architecture.display_name
        notes = {
            "imagenet": "Keras downloads the ImageNet weights (about 230 MB) on first use and keeps them in "
                        "~/.keras/models; later runs work offline.",
            "file": f"{name} weights without the top (.h5). Layers are matched by name; a classification "
                    "head in the file is ignored.",
            "model": f"Starts from that model's {name} backbone: how a hospital adapts a model to its own images.",
            "none": f"Without pretrained weights a {name} needs far more images and epochs; for experiments.",
        }
        self.weights_note.setText(notes[source])
        if self.architecture.pretrained:
            self.lr_spin.setValue(self._options_preview().resolved_learning_rate())
        self.completeChanged.emit()

    def _fill_models(self) -> None:
        from pneumonet_core.models.registry import installed_models

        arch = self.architecture
        self.model_combo.clear()
        for model in installed_models():
            if model.card.backbone == arch.key:
                kind = "bundled" if model.bundled else "yours"
                self.model_combo.addItem(f"{model.card.name} ({kind})", str(model.path))
        if not self.model_combo.count():
            self.model_combo.addItem(f"No installed {arch.display_name} model", None)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Backbone weights", "",
                                              "Keras weights (*.h5 *.keras);;All files (*)")
        if path:
            self.weights_file.setText(path)

    def _weights_value(self) -> str | None:
        if not self.architecture.pretrained:
            return None
        source = self.weights_combo.currentData()
        if source == "file":
            return self.weights_file.text().strip() or None
        if source == "model":
            return self.model_combo.currentData()
        return source

    def _options_preview(self) -> TrainConfig:
        return TrainConfig(approach=self.approach, weights=self._weights_value())

    # --- the estimate -------------------------------------------------------------------

    def initializePage(self) -> None:
        self._update_estimate()

    def _update_estimate(self) -> None:
        wizard = self.wizard()
        split = getattr(getattr(wizard, "explore_page", None), "split", None)
        if split is None:
            self.estimate_label.setText("")
            return
        estimate = estimate_training_time(self.approach, len(split.train), len(split.validation), len(split.test),
                                          self.epochs_spin.value(), self.width_spin.value())
        self.estimate_label.setText(
            f"<b>On this machine: {format_duration(estimate.seconds)}</b> for "
            f"{self.epochs_spin.value()} epochs of {len(split.train)} training images "
            f"({format_duration(estimate.per_epoch_s)} per epoch; early stopping can end it sooner).")
        gpu = " A GPU is many times faster." if self.architecture.pretrained else ""
        self.estimate_basis.setText(f"Rough: {estimate.basis}.{gpu}")

    def isComplete(self) -> bool:
        return self._weights_problem() is None

    def _weights_problem(self) -> str | None:
        if not self.architecture.pretrained:
            return None
        source = self.weights_combo.currentData()
        value = self._weights_value()
        if source == "file" and (not value or not Path(value).is_file()):
            return "choose an existing weights file"
        if source == "model" and not value:
            return f"no installed {self.architecture.display_name} model to start from"
        return None

    def cleanupPage(self) -> None:
        pass  # keep the user's choices when going back

    def validatePage(self) -> bool:
        problem = self._weights_problem()
        self.messages.show_messages(problem)
        if problem:
            return False
        o = self.wizard().options
        o.approach = self.approach
        o.weights = self._weights_value()
        o.epochs = self.epochs_spin.value()
        o.batch_size = self.batch_spin.value()
        o.learning_rate = self.lr_spin.value()
        o.augment = self.augment_check.isChecked()
        o.unfreeze = "all" if self.unfreeze_all.isChecked() else self.unfreeze_spin.value()
        o.cnn_width = self.width_spin.value()
        o.patience = self.patience_spin.value()
        o.threshold_rule = self.rule_combo.currentData()
        return True

    def configure(self, approach: str = APPROACHES[0], epochs: int | None = None, batch_size: int | None = None,
                  cnn_width: int | None = None, augment: bool | None = None) -> None:
        """Set the main choices at once (scripts and tests)."""
        self.set_approach(approach)
        if epochs is not None:
            self.epochs_spin.setValue(epochs)
        if batch_size is not None:
            self.batch_spin.setValue(batch_size)
        if cnn_width is not None:
            self.width_spin.setValue(cnn_width)
        if augment is not None:
            self.augment_check.setChecked(augment)

