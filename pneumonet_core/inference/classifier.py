"""The classifier facade: a loaded model package that classifies scans and explains them.

Every probability Pneumonet shows or exports comes from :meth:`Classifier.decide`, which
fills a :class:`~pneumonet_core.results.ScanResult` from the model's outputs, and asks the
package's out-of-distribution guard (:mod:`pneumonet_core.ood`) whether the scan is a
chest X-ray this model knows.
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
from pneumonet_core.models import calibration
from pneumonet_core.models.architectures import ARCHITECTURES, Architecture
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.ensemble import members
from pneumonet_core.models.package import ModelPackage, load_package
from pneumonet_core.ood.features import check_layer, feature_model, predict_with_features
from pneumonet_core.models.threshold import decision_label
from pneumonet_core.ood.guard import Guard
from pneumonet_core.preprocessing import preprocess
from pneumonet_core.results import ScanResult


class Classifier:
    """Wraps one model package; all inference in Pneumonet goes through here.

    One instance can serve several threads (the viewer and a batch run share it): each
    use of the model holds a lock, so calls interleave between model batches.
    """

    def __init__(self, package: ModelPackage, batch_size: int = 16, apply_calibration: bool = True):
        self.package = package
        self.batch_size = batch_size
        # Off only to refit a calibration (``pneumonet calibrate``), which needs raw probabilities.
        self.apply_calibration = apply_calibration
        self._lock = threading.RLock()
        architecture = ARCHITECTURES.get(package.card.backbone)
        if architecture is None:
            raise ModelPackageError(package.path or "model", f"unknown architecture {package.card.backbone!r}")
        self.architecture: Architecture = architecture
        try:
            self.guard = Guard.of_package(package)
            if self.guard.needs_features:
                check_layer(package.model, self.guard.layer, self.guard.reference.dimensions)
        except ValueError as exc:
            raise ModelPackageError(package.path or "model", f"out-of-distribution guard: {exc}") from None
        self._two_outputs = None  # (outputs, features) model, built on first use when the guard reads features

    @classmethod
    def load(cls, path: str | Path | None = None, batch_size: int = 16, precision: str = "float32") -> "Classifier":
        """Load ``path``, or the active model (see :mod:`pneumonet_core.models.registry`).

        ``precision`` "bfloat16" runs the model in mixed bfloat16 (faster on CPUs with
        native bfloat16, see :mod:`pneumonet_core.inference.precision`).
        """
        if path is None:
            from pneumonet_core.models.registry import active_model_path

            path = active_model_path()
        return cls(load_package(path, precision=precision), batch_size=batch_size)

    @property
    def card(self) -> ModelCard:
        return self.package.card

    @property
    def model(self):
        return self.package.model

    @property
    def precision(self) -> str:
        """How the model computes: "float32" or "bfloat16"."""
        return self.package.precision

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

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(model outputs (N, classes), guard features (N, D) or None) in one forward pass.

        Features are computed only when the package's guard has a feature reference.
        """
        if not self.guard.needs_features:
            return self.predict_inputs(inputs), None
        with self._lock:
            if self._two_outputs is None:
                self._two_outputs = feature_model(self.model, self.guard.layer)
            return predict_with_features(self._two_outputs, inputs, self.batch_size)

    def calibrated(self, raw_probability) -> np.ndarray:
        """The card's calibration applied to raw pneumonia probabilities."""
        return calibration.apply(self.card.calibration if self.apply_calibration else None, raw_probability)

    def decide(self, result: ScanResult, output: np.ndarray, model_input: np.ndarray | None = None,
               features: np.ndarray | None = None) -> ScanResult:
        """``result`` with the calibrated probability and the decision of one row of model outputs.

        With the scan's ``model_input`` (and its ``features`` from :meth:`forward`), the
        guard's verdict is added too (``out_of_distribution``, ``ood_score``, ``ood_reason``).
        """
        output = np.asarray(output, dtype=np.float64).reshape(-1)
        if not np.isfinite(output).all():  # never a confident answer from NaN or infinity
            return dataclasses.replace(result, probability=None, label=None, threshold=self.threshold,
                                       error="the model returned a non-finite probability")
        raw = float(pneumonia_probability(output[None], self.class_names)[0])
        p = float(self.calibrated(raw))
        if output.shape[-1] == 1:
            classes = {"PNEUMONIA": p}
        else:
            # The subtypes keep their share of the (now calibrated) pneumonia probability.
            normal = self.class_names.index("NORMAL")
            classes = {n: (1.0 - p if i == normal else float(v) / max(raw, 1e-12) * p)
                       for i, (n, v) in enumerate(zip(self.class_names, output))}
        ood = {}
        if model_input is not None:
            verdict = self.guard.assess(model_input, result.source, result.metadata, features)
            ood = {"out_of_distribution": verdict.out_of_distribution, "ood_score": verdict.score,
                   "ood_reason": verdict.reason}
        return dataclasses.replace(result, probability=p, label=decision_label(p, self.threshold),
                                   threshold=self.threshold, class_probabilities=classes, **ood)

    def classify(self, scan: Scan, file_sha256: str | None = None) -> ScanResult:
        """Classify one loaded scan, with the guard's verdict."""
        model_input = preprocess(scan.pixels)
        outputs, features = self.forward(model_input[None])
        return self.decide(ScanResult.of_scan(scan, file_sha256), outputs[0], model_input,
                           None if features is None else features[0])

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
            # An ensemble is explained by the mean of its members' maps.
            maps = [compute_gradcam(member, self.architecture.gradcam_layer, model_input, class_index, binary,
                                    scan.shape, crop_margin=float(self.card.spec.get("crop", 0.0)))
                    for member in members(self.model)]
        heat = np.mean(maps, axis=0)
        top = float(heat.max())
        return heat / top if top > 0 else heat
