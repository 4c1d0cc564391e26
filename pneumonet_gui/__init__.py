"""Pneumonet's desktop app: the thin Qt layer over :mod:`pneumonet_core`.

Windows, widgets and workers only; every decision about pixels, models and thresholds is
made in ``pneumonet_core``. Importing this package does not import Keras or TensorFlow:
the model is loaded on a worker thread once the window is up.
"""
