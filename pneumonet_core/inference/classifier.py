"""The classifier facade: a loaded model package that classifies scans and explains them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumonet_core.imaging.scan import Scan
from pneumonet_core.inference.gradcam import compute_gradcam
from pneumonet_core.inference.predict import predict_class_probabilities, pneumonia_probability
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import ModelPackage, load_package
from pneumonet_core.models.threshold import decision_label
from pneumonet_core.preprocessing import preprocess


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one scan at its operating threshold."""

    probability: float
    label: str  # "PNEUMONIA" or "NORMAL"
    threshold: float
    class_probabilities: dict

    @property
    def subtype(self) -> str | None:
        """BACTERIA or VIRUS for a three-label model that decided pneumonia."""
        if self.label != "PNEUMONIA" or len(self.class_probabilities) < 3:
            return None
        return max(("BACTERIA", "VIRUS"), key=lambda c: self.class_probabilities.get(c, 0.0))


class Classifier:
    """Wraps one model package; all inference in Pneumonet goes through here."""

    def __init__(self, package: ModelPackage, batch_size: int = 16):
        self.package = package
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | Path | None = None, batch_size: int = 16) -> "Classifier":
        """Load ``path``, or the active model (see :mod:`pneumonet_core.models.registry`)."""
        if path is None:
            from pneumonet_core.models.registry import active_model_path

            path = active_model_path()
        return cls(load_package(path), batch_size=batch_size)

    @property
    def card(self) -> ModelCard:
        return self.package.card

    @property
    def model(self):
        return self.package.model

    @property
    def threshold(self) -> float:
        return float(self.card.threshold)

    @property
    def class_names(self) -> list[str]:
        return list(self.card.class_names)

    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Raw model outputs (N, classes) for preprocessed inputs (N, 224, 224, 1)."""
        return predict_class_probabilities(self.model, inputs, self.batch_size)

    def predictions_from_outputs(self, outputs: np.ndarray) -> list[Prediction]:
        probs = pneumonia_probability(outputs, self.class_names)
        names = self.class_names if outputs.shape[-1] > 1 else ["PNEUMONIA"]
        return [
            Prediction(
                probability=float(p),
                label=decision_label(float(p), self.threshold),
                threshold=self.threshold,
                class_probabilities={n: float(v) for n, v in zip(names, row)},
            )
            for p, row in zip(probs, outputs)
        ]

    def classify_input(self, model_input: np.ndarray) -> Prediction:
        return self.predictions_from_outputs(self.predict_inputs(model_input[None]))[0]

    def classify(self, scan: Scan) -> Prediction:
        """Classify one loaded scan."""
        return self.classify_input(preprocess(scan.pixels))

    def heatmap(self, scan: Scan, prediction: Prediction | None = None) -> np.ndarray:
        """Grad-CAM for the predicted class, at the scan's full resolution, values 0..1."""
        model_input = preprocess(scan.pixels)
        prediction = prediction or self.classify_input(model_input)
        binary = len(self.class_names) == 2 and self.model.outputs[0].shape[-1] == 1
        if binary:
            class_index = 1 if prediction.label == "PNEUMONIA" else 0
        else:
            target = prediction.subtype or "NORMAL"
            class_index = self.class_names.index(target) if target in self.class_names else 0
        return compute_gradcam(self.model, self.card.gradcam_layer, model_input, class_index, binary, scan.shape)
