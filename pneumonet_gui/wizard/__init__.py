"""The training wizard: a guide over ``pneumonet train`` (see :mod:`pneumonet_gui.wizard.wizard`).

Importing this package is cheap (no matplotlib, no Keras): the main window imports it at
start-up to enable Model -> Train a model; the pages load when the wizard first opens.
"""

from __future__ import annotations


def __getattr__(name):
    if name == "TrainingWizard":
        from pneumonet_gui.wizard.wizard import TrainingWizard

        return TrainingWizard
    raise AttributeError(name)


def open_training_wizard(window, data_dir=None):
    """Open the wizard over the viewer; a saved model made active is loaded into the viewer.

    A reading-room app built without TensorFlow says in the banner, in one line, what
    training needs and how to add it, and opens nothing.
    """
    from pneumonet_core.runtime import training_part

    missing = training_part.problem("the training wizard")
    if missing:
        window.info_banner.set_lines([missing])
        return None
    from pneumonet_gui.extensions import open_once
    from pneumonet_gui.wizard.wizard import TrainingWizard

    def make() -> TrainingWizard:
        wizard = TrainingWizard(window, data_dir=data_dir)
        wizard.modelSaved.connect(lambda path, active: window.set_model(path) if active else None)
        return wizard

    return open_once(window, "training_wizard", make)


def attach_to_main_window(window) -> None:
    """Enable Model -> Train a model... (called by the main window for its extensions)."""
    action = window.model_menu.train_action
    action.setEnabled(True)
    action.setToolTip("Train a model on a labelled folder, step by step")
    action.triggered.connect(lambda _checked=False: open_training_wizard(window))


__all__ = ["TrainingWizard", "attach_to_main_window", "open_training_wizard"]
