"""Pneumonet core: scan loading, preprocessing, models, training, evaluation and reports.

This package never imports Qt, so everything in it runs and tests headless.
"""

__version__ = "0.1.0"
