"""The classifier facade: a loaded model package that classifies scans and explains them.

Every probability Pneumonet shows or exports comes from :meth:`Classifier.decide`, which
fills a :class:`~pneumonet_core.results.ScanResult` from the model's outputs.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np

from pneumonet_core.errors import ModelPackageError
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.inference.gradcam import compute_gradcam
from pneumonet_core.inference.predict import predict_class_probabilities, pneumonia_probability
from pneumonet_core.models.architectures import ARCHITECTURES, Architecture
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.package import ModelPackage, load_package
from pneumonet_core.models.threshold import decision_label
from pneumonet_core.preprocessing import preprocess
from pneumonet_core.results import ScanResult


class Classifier:
    """Wraps one model package; all inference in Pneumonet goes through here.

    One instance can serve several threads (the viewer and a batch run share it): each
    use of the model holds a lock, so calls interleave between model batches.
    """

    def __init__(self, package: ModelPackage, batch_size: int = 16):
        self.package = package
        self.batch_size = batch_size
        self._lock = threading.RLock()
        architecture = ARCHITECTURES.get(package.card.backbone)
        if architecture is None:
            raise ModelPackageError(package.path or "model", f"unknown architecture {package.card.backbone!r}")
        self.architecture: Architecture = architecture

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
        with self._lock:
            return predict_class_probabilities(self.model, inputs, self.batch_size)

    def decide(self, result: ScanResult, output: np.ndarray) -> ScanResult:
        """``result`` with the probability and decision of one row of model outputs."""
        output = np.asarray(output, dtype=np.float32).reshape(-1)
        if not np.isfinite(output).all():  # never a confident answer from NaN or infinity
            return dataclasses.replace(result, probability=None, label=None, threshold=self.threshold,
                                       error="the model returned a non-finite probability")
        p = float(pneumonia_probability(output[None], self.class_names)[0])
        names = self.class_names if output.shape[-1] > 1 else ["PNEUMONIA"]
        return dataclasses.replace(
            result, probability=p, label=decision_label(p, self.threshold), threshold=self.threshold,
            class_probabilities={n: float(v) for n, v in zip(names, output)},
        )

    def classify(self, scan: Scan, file_sha256: str | None = None) -> ScanResult:
        """Classify one loaded scan."""
        output = self.predict_inputs(preprocess(scan.pixels)[None])[0]
        return self.decide(ScanResult.of_scan(scan, file_sha256), output)

    def heatmap(self, scan: Scan, result: ScanResult | None = None) -> np.ndarray:
        """Grad-CAM for the decided class, at the scan's full resolution, values 0..1."""
        model_input = preprocess(scan.pixels)
        if result is None or not result.classified:
            result = self.decide(ScanResult.of_scan(scan), self.predict_inputs(model_input[None])[0])
        binary = len(self.class_names) == 2 and self.model.outputs[0].shape[-1] == 1
        if binary:
            class_index = 1 if result.label == "PNEUMONIA" else 0
        else:
            target = result.subtype or "NORMAL"
            class_index = self.class_names.index(target) if target in self.class_names else 0
        with self._lock:
            return compute_gradcam(self.model, self.architecture.gradcam_layer, model_input, class_index, binary,
                                   scan.shape)
