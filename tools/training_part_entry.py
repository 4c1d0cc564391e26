"""What the training part of the packaged app must hold (build.spec's second analysis).

Never run: PyInstaller reads its imports. Those of TensorFlow and Keras reach, through
the hidden imports build.spec adds (every ``pneumonet_core`` module), everything that
training, ``--runtime tensorflow``, gradient Grad-CAM and LiteRT conversion import.
"""

import keras  # noqa: F401
import tensorflow  # noqa: F401

import pneumonet_core.inference.litert_export
import pneumonet_core.training.trainer  # noqa: F401
