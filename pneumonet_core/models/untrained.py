"""An untrained model package: a width-4 CNN with seeded random weights.

Its outputs depend on the image, so it exercises every code path of a real model (the
package format, the card, batching, Grad-CAM) in milliseconds; its numbers mean nothing
clinically. The test suite and the benchmarks' ``--tiny`` runs use it.
"""

from __future__ import annotations

from pathlib import Path

from pneumonet_core.models.architectures import ModelSpec, build_model
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import save_package
from pneumonet_core.preprocessing import INPUT_SIZE, PREPROCESSING_ID


def write_untrained_package(path: Path, threshold: float = 0.5, seed: int = 0, labels: str = "binary",
                            name: str = "tiny-test-cnn", width: int = 4) -> Path:
    """Write the untrained CNN package to ``path``; return the path."""
    import keras  # Keras only when a package is written: importing this module stays cheap

    keras.utils.set_random_seed(seed)
    spec = ModelSpec(approach="cnn", labels=labels, cnn_width=width)
    model = build_model(spec)
    card = ModelCard(
        name=name, approach="cnn", backbone=spec.backbone, spec=spec.to_dict(),
        input={"size": list(INPUT_SIZE), "channels": 1, "range": "0..1", "preprocessing": PREPROCESSING_ID},
        class_names=list(spec.class_names), threshold=threshold, threshold_rule="fixed for tests",
        gradcam_layer=spec.gradcam_layer, weights_init="random (untrained test model)",
        metrics={"n": 0, "roc_auc": None}, notes=["untrained model made by the test suite"],
    )
    save_package(model, card, path)
    return Path(path)
