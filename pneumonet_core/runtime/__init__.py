"""The forward pass and numeric precision: below the models, the guard and inference.

``predict.py`` runs a Keras model over inputs in static-shape padded passes;
``precision.py`` chooses float32 or mixed bfloat16 and rewrites an architecture for it.
They import nothing from ``models``, ``ood`` or ``inference``, so those can all use them.
"""
