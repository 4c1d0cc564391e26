"""The packaged app's ``--selftest --training``: the bundled model on TensorFlow, through the training part.

It sits in the inference layer because it loads a :class:`Classifier`; finding and adding
the part is :mod:`pneumonet_core.runtime.training_part`'s job, below it.
"""

from __future__ import annotations

import sys
import time

from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.runtime.training_part import active_part, require


def self_check(model_path, scan) -> str:
    """Load ``model_path`` with TensorFlow (through the part in the app) and explain ``scan``; one line.

    The packaged app's ``--selftest --training``: the Keras model, its custom layers and the
    gradient Grad-CAM all come from the training part.
    """
    require("the self-test's TensorFlow check")
    started = time.perf_counter()
    classifier = Classifier.load(model_path, runtime="tensorflow", subtype=None)
    result, heatmap = classifier.explain(scan)
    if heatmap is None:  # withheld by the guard: the map is still computed, directly
        heatmap = classifier.heatmap(scan, result)
    tf = sys.modules["tensorflow"]
    answer = "result withheld" if result.withheld else f"p={result.probability:.4f} {result.label}"
    return (f"TensorFlow {tf.__version__} from {active_part() or 'the app itself'}; {classifier.card.name} on "
            f"TensorFlow: {answer}, Grad-CAM {heatmap.shape[1]}x{heatmap.shape[0]}; {time.perf_counter() - started:.1f} s")
