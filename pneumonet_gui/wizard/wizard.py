"""The training wizard: seven pages over ``pneumonet train``, from a folder to an installed model.

Data, Exploration, Approach, Training, Evaluation, Comparison, Save. The wizard gathers
choices into a :class:`~pneumonet_core.training.config.TrainConfig`, runs the CLI in a child
process, evaluates the result on its held-out patients, compares it with the active model on
the same films, and installs it; it adds no training logic of its own. The new model becomes
active only when the user ticks the box on the Save page. Closing it at any point stops the
training and removes every temporary file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWizard

from pneumonet_core.training.config import TrainConfig
from pneumonet_gui import theme
from pneumonet_gui.wizard.approach_page import ApproachPage
from pneumonet_gui.wizard.comparison_page import ComparisonPage
from pneumonet_gui.wizard.data_page import DataPage
from pneumonet_gui.wizard.evaluation_page import EvaluationPage
from pneumonet_gui.wizard.explore_page import ExplorePage
from pneumonet_gui.wizard.save_page import SavePage
from pneumonet_gui.wizard.training_page import TrainingPage


class TrainingWizard(QWizard):
    """``modelSaved(path, active)`` fires after Finish installed the model."""

    modelSaved = Signal(str, bool)

    def __init__(self, parent=None, data_dir: str | Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a model \u2014 Pneumonet")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, False)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save model")
        self.resize(1080, 780)
        self.options = TrainConfig()
        self.data_page = DataPage()
        self.explore_page = ExplorePage()
        self.approach_page = ApproachPage()
        self.training_page = TrainingPage()
        self.evaluation_page = EvaluationPage()
        self.comparison_page = ComparisonPage()
        self.save_page = SavePage()
        pages = (self.data_page, self.explore_page, self.approach_page, self.training_page,
                 self.evaluation_page, self.comparison_page, self.save_page)
        self.setTitleFormat(Qt.TextFormat.RichText)
        for number, page in enumerate(pages, start=1):
            page.setTitle(f'<span style="font-size: 16px; font-weight: 600;">{page.title()}</span>'
                          f'<span style="color: {theme.MUTED};">&nbsp;&nbsp;step {number} of {len(pages)}</span>')
            self.addPage(page)
        self.finished.connect(self._cleanup)
        if data_dir is not None:
            self.data_page.set_folder(data_dir)

    @property
    def trained_model_path(self) -> Path | None:
        """The finished model in the run's temporary folder (None before a run succeeds)."""
        return self.training_page.trained_model

    def reset_results(self) -> None:
        """A new run invalidates the previous evaluation."""
        self.evaluation_page.result = None
        self.comparison_page.cleanupPage()

    def accept(self) -> None:
        super().accept()
        saved = self.save_page.saved_path
        if saved is not None:
            self.modelSaved.emit(str(saved), self.save_page.active_check.isChecked())

    def reject(self) -> None:
        self.training_page.stop(wait=True)
        super().reject()

    def closeEvent(self, event) -> None:
        self.training_page.stop(wait=True)
        super().closeEvent(event)

    def _cleanup(self, _result: int = 0) -> None:
        """Stop every worker and the training process; remove the temporary model."""
        self.training_page.discard()
        self.data_page.cleanup()
        self.explore_page.cleanup()
        self.evaluation_page.cleanupPage()
        self.comparison_page.shutdown()
