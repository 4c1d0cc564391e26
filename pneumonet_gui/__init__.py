"""Pneumonet's desktop app: the thin Qt layer over :mod:`pneumonet_core`.

Windows, widgets and workers only; every decision about pixels, models and thresholds is
made in ``pneumonet_core``. Importing this package does not import Keras or TensorFlow:
the model is loaded on a worker thread once the window is up.
"""

from pneumonet_gui.refcount_guard import install as _guard_refcounts

_guard_refcounts()  # only PySide6 6.12 on CPython < 3.12 needs it: see refcount_guard
