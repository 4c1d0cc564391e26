"""What the training part of the packaged app must hold (build.spec's second analysis).

Never run: PyInstaller reads its imports. Those of TensorFlow and Keras reach, through
the hidden imports build.spec adds (every ``pneumonet_core`` module), everything that
training, ``--runtime tensorflow``, gradient Grad-CAM and LiteRT conversion import.
"""

# Deriving a mixed-int8 LiteRT graph for a model installed later rewrites the flatbuffer
# with TensorFlow's own tools (imported inside a function there: named here as well).
import keras  # noqa: F401
import tensorflow
import tensorflow.lite.python.schema_py_generated
import tensorflow.lite.tools.flatbuffer_utils  # noqa: F401

import pneumonet_core.inference.litert_export
import pneumonet_core.training.trainer  # noqa: F401
