"""The classifier facade: a loaded model package that classifies scans and explains them.

Every probability Pneumonet shows or exports comes from :meth:`Classifier.decide`, which
fills a :class:`~pneumonet_core.results.ScanResult` from the model's outputs, and asks the
package's out-of-distribution guard (:mod:`pneumonet_core.ood`) whether the scan is a
chest X-ray this model knows.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np

from pneumonet_core.errors import ModelPackageError
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.inference import gradcam
from pneumonet_core.inference.subtype import SubtypeModel, SubtypeSlot, chosen_subtype_path
from pneumonet_core.models import calibration
from pneumonet_core.models.architectures import ARCHITECTURES, Architecture
from pneumonet_core.models.card import ModelCard
from pneumonet_core.models.ensemble import members
from pneumonet_core.models.package import ModelPackage, load_package
from pneumonet_core.models.registry import active_model_path
from pneumonet_core.models.threshold import decision_label
from pneumonet_core.ood.features import check_layer, feature_model, features_only_model, predict_with_features
from pneumonet_core.ood.guard import Guard
from pneumonet_core.preprocessing import INPUT_SIZE, preprocess
from pneumonet_core.results import ScanResult
from pneumonet_core.runtime.predict import (
    pneumonia_probability,
    predict_class_probabilities,
)


def site_accepted_ages() -> tuple[float, float] | None:
    """The ``accepted_ages`` setting ("MIN-MAX" years) of ``settings.json``; None when unset or unreadable."""
    from pneumonet_core.ood.population import parse_age_range
    from pneumonet_core.settings import load_settings

    value = load_settings().values.get("accepted_ages")
    try:
        return parse_age_range(value) if value else None
    except ValueError:
        return None  # a mistyped setting leaves the card's ages (load_settings names the problem)


class Classifier:
    """Wraps one model package; all inference in Pneumonet goes through here.

    This class runs the Keras model (``--runtime tensorflow``); :class:`.litert_runtime.LiteClassifier`,
    what :meth:`load` gives by default, runs the package's LiteRT graph and decides alike.

    One instance can serve several threads (the viewer and a batch run share it): each
    use of the model holds a lock, so calls interleave between model batches.
    """

    runtime = "tensorflow"

    def __init__(self, package: ModelPackage, batch_size: int | None = None, apply_calibration: bool = True,
                 accepted_ages: tuple[float, float] | None = None):
        self.package = package
        # Off only to refit a calibration (``pneumonet calibrate``), which needs raw probabilities.
        self.apply_calibration = apply_calibration
        self._lock = threading.RLock()
        #: True while :meth:`warm_up` compiles the one-pass graph: :meth:`explain` then runs
        #: eagerly instead of waiting seconds for the compilation.
        self.warming = False
        self._compile_lock = threading.Lock()
        self._explaining = 0  # explain() calls in progress: a warm-up lets them finish first
        self._last_explained = float("-inf")  # time.monotonic() when the last one ended
        architecture = ARCHITECTURES.get(package.card.backbone)
        if architecture is None:
            raise ModelPackageError(package.path or "model", f"unknown architecture {package.card.backbone!r}")
        self.architecture: Architecture = architecture
        #: Scans per forward pass: the architecture's, unless the caller chose one.
        self.batch_size = batch_size or architecture.inference_batch
        try:
            # The header ages a site accepts: ``accepted_ages``, else its setting, else the card's.
            self.guard = Guard.of_package(package, accepted_ages or site_accepted_ages())
            reference = self.guard.reference  # the guard needs features when it has one
            if reference is not None and package.model is not None:  # a LiteRT graph is checked by its classifier
                check_layer(package.model, self.guard.layer, reference.dimensions)
        except ValueError as exc:
            raise ModelPackageError(package.path or "model", f"out-of-distribution guard: {exc}") from None
        self._two_outputs = None  # (outputs, features) model, built on first use when the guard reads features
        self._features_only = None  # the network cut at the guard's layer, for explain()
        #: The bacterial/viral second opinion on PNEUMONIA decisions (:mod:`.subtype`); off until
        #: :meth:`load` attaches one.
        self.subtype = SubtypeSlot(None)

    @classmethod
    def load(cls, path: str | Path | None = None, batch_size: int | None = None,
             precision: str = "float32", runtime: str | None = None, apply_calibration: bool = True,
             subtype: str | Path | None = "auto") -> Classifier:
        """Load ``path``, or the active model (see :mod:`pneumonet_core.models.registry`).

        A pneumonia model (NORMAL/PNEUMONIA) gets the bacterial/viral opinion of ``subtype``: a
        subtype package, "auto" (the chosen one, see :func:`.subtype.chosen_subtype_path`) or
        None/"none" (off). A refit of the calibration (``apply_calibration`` False) gets none.

        ``runtime`` "litert" (the default, see :mod:`.litert_runtime`) answers without
        TensorFlow; "tensorflow" runs the Keras model. ``precision`` "bfloat16" runs the
        model in mixed bfloat16 under TensorFlow (faster on CPUs with native bfloat16, see
        :mod:`pneumonet_core.runtime.precision`).
        """
        from pneumonet_core.inference.litert_runtime import chosen_runtime, load_lite

        if path is None:
            path = active_model_path()
        if chosen_runtime(runtime, precision) == "litert":
            classifier: Classifier = load_lite(path, batch_size=batch_size, apply_calibration=apply_calibration)
        else:
            classifier = cls(load_package(path, precision=precision), batch_size=batch_size,
                             apply_calibration=apply_calibration)
        if apply_calibration and classifier.card.gets_subtype_opinion:
            chosen = chosen_subtype_path() if subtype == "auto" else subtype
            off = chosen is None or str(chosen).strip().lower() == "none"
            classifier.subtype = SubtypeSlot(None if off or chosen is None else Path(chosen),
                                             lambda p: load_subtype_model(p, runtime))
        return classifier

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

    def guard_features(self, inputs: np.ndarray) -> np.ndarray:
        """The guard's features alone (the network cut at its layer), in static-shape batches."""
        with self._lock:
            if self._features_only is None:
                self._features_only = features_only_model(self.model, self.guard.layer)
            return predict_class_probabilities(self._features_only, inputs, self.batch_size)

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
        if model_input is not None:
            verdict = self.guard.assess(model_input, result.source, result.metadata, features)
            result = dataclasses.replace(result, out_of_distribution=verdict.out_of_distribution,
                                         ood_score=verdict.score, ood_reason=verdict.reason)
        subtype, viral = None, None
        if "BACTERIA" in classes and "VIRUS" in classes:  # a three-label head gives its own opinion
            viral = classes["VIRUS"] / max(classes["BACTERIA"] + classes["VIRUS"], 1e-12)
            subtype = "VIRUS" if viral >= 0.5 else "BACTERIA"
        return dataclasses.replace(result, probability=p, label=decision_label(p, self.threshold),
                                   threshold=self.threshold, class_probabilities=classes,
                                   subtype=subtype, viral_probability=viral)

    def with_subtypes(self, results: list[ScanResult], inputs: list) -> list[ScanResult]:
        """``results`` with the bacterial/viral opinion on their PNEUMONIA decisions (one batched pass)."""
        return self.subtype.add_to(results, inputs)

    def classify(self, scan: Scan, file_sha256: str | None = None) -> ScanResult:
        """Classify one loaded scan, with the guard's verdict."""
        model_input = preprocess(scan.pixels)
        outputs, features = self.forward(model_input[None])
        result = self.decide(ScanResult.of_scan(scan, file_sha256), outputs[0], model_input,
                             None if features is None else features[0])
        return self.with_subtypes([result], [model_input])[0]

    def explain(self, scan: Scan, file_sha256: str | None = None) -> tuple[ScanResult, np.ndarray | None]:
        """Classify one scan and explain the decision, in one forward pass where the backend allows.

        Returns the result (exactly what :meth:`classify` decides) and the Grad-CAM heat
        map of the decided class at the scan's size (None when there is no decision).
        """
        if not self._one_pass() or len(members(self.model)) > 1:
            result = self.classify(scan, file_sha256)
            return result, (self.heatmap(scan, result) if result.classified and not result.withheld else None)
        self._explaining += 1
        try:
            model_input = preprocess(scan.pixels)
            layer = self.architecture.gradcam_layer
            eager = self.warming and not gradcam.is_compiled(self.model, layer)
            with self._lock:
                output, maps = gradcam.outputs_and_class_maps(self.model, layer, model_input, eager=eager)
        finally:
            self._explaining -= 1
            self._last_explained = time.monotonic()
        features = self.guard_features(model_input[None]) if self.guard.needs_features else None
        result = self.decide(ScanResult.of_scan(scan, file_sha256), output, model_input,
                             None if features is None else features[0])
        result = self.with_subtypes([result], [model_input])[0]
        if not result.classified or result.withheld:  # no heat map for a result that is not given
            return result, None
        return result, gradcam.finish_map(maps[self._explained_class(result)], scan.shape, self._crop_margin)

    def heatmap(self, scan: Scan, result: ScanResult | None = None) -> np.ndarray:
        """Grad-CAM for the decided class, at the scan's full resolution, values 0..1."""
        model_input = preprocess(scan.pixels)
        if result is None or not result.classified:
            result = self.decide(ScanResult.of_scan(scan), self.predict_inputs(model_input[None])[0])
        binary = self._binary_head()
        with self._lock:
            # An ensemble is explained by the mean of its members' maps.
            maps = [gradcam.compute_gradcam(member, self.architecture.gradcam_layer, model_input,
                                            self._explained_class(result), binary, scan.shape,
                                            crop_margin=self._crop_margin)
                    for member in members(self.model)]
        heat = np.mean(maps, axis=0)
        top = float(heat.max())
        return heat / top if top > 0 else heat

    def warm_up(self, idle_s: float = 3.0, should_stop=None) -> None:
        """Compile the one-pass graph and run it once on a blank film, so every later scan is quick.

        Tracing ResNet152V2's graph takes seconds on a CPU; the app does it right after
        loading, off the GUI thread. The tracing only builds a graph, so it does not hold
        the model's lock: a scan explained meanwhile runs eagerly (see :attr:`warming`).
        Scans being read go first: the compilation starts once no scan has been explained
        for ``idle_s`` seconds (two cores shared with a trace answer a scan several times
        later). ``should_stop`` (the app's cancel) ends the wait.
        """
        if not self._one_pass():
            return
        layer = self.architecture.gradcam_layer
        with self._compile_lock:
            if gradcam.is_compiled(self.model, layer):
                return
            self.warming = True
            try:
                time.sleep(min(idle_s, 0.2))  # the scan waiting for this model starts first
                while self._explaining or time.monotonic() - self._last_explained < idle_s:
                    if should_stop is not None and should_stop():
                        return
                    time.sleep(0.05)
                gradcam.compile_one_pass(self.model, layer)
                with self._lock:
                    gradcam.outputs_and_class_maps(self.model, layer, np.zeros((*INPUT_SIZE, 1), np.float32))
            finally:
                self.warming = False

    @property
    def _crop_margin(self) -> float:
        return float(self.card.spec.get("crop", 0.0))

    def _binary_head(self) -> bool:
        return len(self.class_names) == 2 and self.model.outputs[0].shape[-1] == 1

    def _explained_class(self, result: ScanResult) -> int:
        """The class whose map explains the decision: pneumonia or normal, else the subtype."""
        if self._binary_head():
            return 1 if result.label == "PNEUMONIA" else 0
        target = result.subtype if result.subtype in self.class_names else "NORMAL"
        return self.class_names.index(target) if target in self.class_names else 0

    @staticmethod
    def _one_pass() -> bool:
        import keras

        return keras.backend.backend() == "tensorflow"


def load_subtype_model(path: str | Path, runtime: str | None = None) -> SubtypeModel:
    """The bacterial/viral model of ``path`` (verified as any package); ModelPackageError when it is not one."""
    classifier = Classifier.load(path, runtime=runtime, subtype=None)
    try:
        return SubtypeModel(classifier)
    except ValueError as exc:
        raise ModelPackageError(path, str(exc)) from None
