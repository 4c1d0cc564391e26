"""The script PyInstaller freezes into the Pneumonet app (``build.spec``): the viewer, or
any ``pneumonet`` command when the arguments name one (:func:`app_entry_point`).

TensorFlow is not in the app: the first import of it (or of Keras) goes through
:mod:`pneumonet_core.runtime.training_part`, which adds the training part or says in one
line that it is missing."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from pneumonet_core.runtime import training_part

    training_part.install()
    from pneumonet_cli.main import app_entry_point

    app_entry_point()
