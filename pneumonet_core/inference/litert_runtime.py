"""The LiteRT (TensorFlow Lite) runtime: inference without TensorFlow, the default.

TensorFlow is a training framework: importing it, rebuilding ResNet152V2 in Keras and
tracing the first graph take seconds and a gigabyte before the first answer. The same
network as a LiteRT flatbuffer (XNNPACK; by default int8 weights with dynamic-range
quantization after the guard layer, float32 up to it: :data:`~.litert_export.VARIANTS`)
answers the first film in about a second from about 300 megabytes. :class:`LiteClassifier`
is a :class:`~pneumonet_core.inference.classifier.Classifier` whose model is that graph:
``decide``, the guard, calibration and thresholds are the classifier's own, so the answers
are the same objects; only the forward pass differs.

One pass of the graph (:mod:`.litert_export`) gives the outputs, the guard's features and
each member's last feature map; the heat map is CAM from that map and the head's dense
weights, equal to Grad-CAM for Pneumonet's heads (:func:`class_maps`). A member whose head
is something else is explained by TensorFlow's gradient Grad-CAM, loaded on first need.

``--runtime tensorflow`` (or ``PNEUMONET_RUNTIME=tensorflow``) keeps the Keras path, for
comparison, for training and where gradients are needed; mixed bfloat16 runs there only.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from pneumonet_core.data.batches import padded_batches
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.imaging.scan import Scan
from pneumonet_core.inference import gradcam
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.models.package import ModelPackage, checked_files
from pneumonet_core.preprocessing import INPUT_SIZE, preprocess
from pneumonet_core.results import ScanResult
from pneumonet_core.runtime.predict import as_float_inputs

RUNTIMES = ("litert", "tensorflow")
DEFAULT_RUNTIME = "litert"
#: Chooses the runtime when no caller does (the CLI's ``--runtime`` sets it).
RUNTIME_ENV = "PNEUMONET_RUNTIME"
#: Chooses the graph's variant (:data:`~.litert_export.VARIANTS`) when no caller does: for measuring.
VARIANT_ENV = "PNEUMONET_LITERT_VARIANT"
EXTRA_PREFIX = "extra/"


def chosen_runtime(runtime: str | None = None, precision: str = "float32") -> str:
    """The runtime to use: the caller's, else ``$PNEUMONET_RUNTIME``, else LiteRT.

    Mixed bfloat16 is a TensorFlow feature: asking for it means the TensorFlow runtime.
    """
    name = runtime or os.environ.get(RUNTIME_ENV) or DEFAULT_RUNTIME
    if name not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)} (not {name!r})")
    return "tensorflow" if precision != "float32" else name


def keras_backend_name() -> str:
    """Keras' backend without importing Keras (which imports TensorFlow) when it is not loaded yet."""
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


class LiteGraph:
    """A LiteRT interpreter for one graph; its passes take turns (an interpreter is not reentrant)."""

    def __init__(self, data: bytes, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.size = len(data)  # bytes of the flatbuffer
        self._interpreter = Interpreter(model_content=data, num_threads=threads or os.cpu_count() or 1)
        self._runner = self._interpreter.get_signature_runner()
        self._input = next(iter(self._runner.get_input_details()))
        self.outputs = {name: tuple(d["shape_signature"]) for name, d in self._runner.get_output_details().items()}
        self._lock = threading.Lock()

    def run(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the graph for float32 inputs (N, 224, 224, 1); resizes when N changes."""
        with self._lock:
            return {k: np.array(v) for k, v in self._runner(**{self._input: inputs}).items()}


def class_maps(feature_map: np.ndarray, head: dict) -> np.ndarray:
    """The raw Grad-CAM maps of every class (C, h, w) of one member, from its feature map (h, w, k).

    Sigmoid head: ``A.w`` for PNEUMONIA and its negation for NORMAL (Grad-CAM's gradient is
    p(1-p) w / hw, a positive factor). Softmax head: ``A.w_c - sum_j p_j A.w_j`` (the gradient
    of p_c is p_c (w_c - sum_j p_j w_j) / hw), with the member's own probabilities p. The
    factors drop out when :func:`~.gradcam.finish_map` normalises the map.
    """
    kernel = np.asarray(head["kernel"], np.float64)
    scores = np.asarray(feature_map, np.float64) @ kernel  # (h, w, classes)
    if head["activation"] == "sigmoid":
        return np.stack([-scores[..., 0], scores[..., 0]]).astype(np.float32)
    logits = np.asarray(feature_map, np.float64).mean(axis=(0, 1)) @ kernel + np.asarray(head.get("bias", 0.0))
    p = np.exp(logits - logits.max())
    p /= p.sum()
    centred = scores - (scores * p).sum(axis=-1, keepdims=True)
    return np.moveaxis(centred, -1, 0).astype(np.float32)


class LiteClassifier(Classifier):
    """A :class:`Classifier` whose forward pass is a LiteRT graph; no TensorFlow to answer."""

    runtime = "litert"

    def __init__(self, package: ModelPackage, graph: LiteGraph, meta: dict, batch_size: int | None = None,
                 apply_calibration: bool = True, source: str = ""):
        super().__init__(package, batch_size=batch_size, apply_calibration=apply_calibration)
        self.graph, self.meta = graph, meta
        #: Where the graph came from: "bundle", "cache" or "derived" (``pneumonet info``, benchmarks).
        self.graph_source = source
        self.heads = list(meta.get("heads") or [])
        reference = self.guard.reference  # the guard needs features when it has one
        if reference is not None:
            width = (graph.outputs.get("features") or (0, 0))[-1]
            if meta.get("guard_layer") != self.guard.layer or width != reference.dimensions:
                raise ModelPackageError(package.path or "model", f"out-of-distribution guard: the LiteRT graph reads "
                                        f"{meta.get('guard_layer')!r} ({width}), the reference {self.guard.layer!r}")
        self._keras: ModelPackage | None = None  # the TensorFlow package, loaded only for a head CAM does not explain
        self._keras_lock = threading.Lock()

    @property
    def model(self):
        """The Keras model (loads TensorFlow): only for what LiteRT cannot do."""
        return self.keras_package().model

    @property
    def cam_exact(self) -> bool:
        """True when every member's map is CAM (no gradients, no TensorFlow)."""
        return bool(self.heads) and all(h.get("cam") for h in self.heads)

    def keras_package(self) -> ModelPackage:
        with self._keras_lock:
            if self._keras is None:
                from pneumonet_core.models.package import load_package

                path = self.package.path
                if path is None:
                    raise ModelPackageError("model", "the TensorFlow model needs the package's file")
                self._keras = load_package(path)
                if self._keras.card.hash != self.card.hash:
                    raise ModelPackageError(path, "the model file changed since it was loaded")
            return self._keras

    def _run(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for model inputs, in padded passes of two shapes (one scan, a full batch)."""
        n = len(inputs)
        size = 1 if n == 1 else self.batch_size
        parts: dict[str, list] = {}
        for start, stop in padded_batches(n, size):
            x = as_float_inputs(inputs[start:stop])
            if len(x) < size:
                x = np.concatenate([x, np.zeros((size - len(x), *x.shape[1:]), np.float32)])
            with self._lock:
                for name, value in self.graph.run(x).items():
                    parts.setdefault(name, []).append(value[: stop - start])
        return {name: np.concatenate(values) for name, values in parts.items()}

    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return self.forward(inputs)[0]

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if len(inputs) == 0:
            width = self.graph.outputs["outputs"][-1]
            return np.zeros((0, width), np.float32), (np.zeros((0, 1), np.float32) if self.guard.needs_features else None)
        out = self._run(inputs)
        outputs = out["outputs"].reshape(len(inputs), -1).astype(np.float32)
        return outputs, (out["features"].reshape(len(inputs), -1) if self.guard.needs_features else None)

    def guard_features(self, inputs: np.ndarray) -> np.ndarray:
        return self._run(inputs)["features"].reshape(len(inputs), -1)

    def explain(self, scan: Scan, file_sha256: str | None = None) -> tuple[ScanResult, np.ndarray | None]:
        """Classify and explain one scan from one pass of the graph (see :func:`class_maps`)."""
        model_input = preprocess(scan.pixels)
        self._explaining += 1
        try:
            out = self._run(model_input[None])
        finally:
            self._explaining -= 1
            self._last_explained = time.monotonic()
        features = out["features"][0] if self.guard.needs_features else None
        result = self.decide(ScanResult.of_scan(scan, file_sha256), out["outputs"][0], model_input, features)
        result = self.with_subtypes([result], [model_input])[0]
        if not result.classified or result.withheld:  # no heat map for a result that is not given
            return result, None
        return result, self._map(scan, result, out)

    def heatmap(self, scan: Scan, result: ScanResult | None = None) -> np.ndarray:
        model_input = preprocess(scan.pixels)
        out = self._run(model_input[None])
        if result is None or not result.classified:
            result = self.decide(ScanResult.of_scan(scan), out["outputs"][0])
        return self._map(scan, result, out)

    def _map(self, scan: Scan, result: ScanResult, out: dict) -> np.ndarray:
        """The decided class's map at the scan's size: CAM per member, or TensorFlow's Grad-CAM."""
        if not self.cam_exact:
            return Classifier.heatmap(self, scan, result)
        index = self._explained_class(result)
        maps = [gradcam.finish_map(class_maps(out[f"maps_{i}"][0], head)[index], scan.shape, self._crop_margin)
                for i, head in enumerate(self.heads)]
        if len(maps) == 1:
            return maps[0]
        heat = np.mean(maps, axis=0)  # an ensemble's map is the mean of its members', as under TensorFlow
        top = float(heat.max())
        return heat / top if top > 0 else heat

    def warm_up(self, idle_s: float = 3.0, should_stop=None) -> None:
        """Nothing to compile: one blank film sets up XNNPACK's single-scan pass before the first scan."""
        with self._lock:
            self.graph.run(np.zeros((1, *INPUT_SIZE, 1), np.float32))

    def _binary_head(self) -> bool:
        return len(self.class_names) == 2 and self.graph.outputs["outputs"][-1] == 1


def load_lite(path: str | Path, batch_size: int | None = None, apply_calibration: bool = True,
              require_signature: bool | None = None, variant: str | None = None) -> LiteClassifier:
    """Verify the package at ``path`` and open its LiteRT graph (bundled, cached, or derived now)."""
    from pneumonet_core.inference.litert_cache import graph_for
    from pneumonet_core.inference.litert_export import DEFAULT_VARIANT

    path = Path(path)
    card, files = checked_files(path, require_signature)
    extras = {name[len(EXTRA_PREFIX):]: data for name, data in files.items() if name.startswith(EXTRA_PREFIX)}
    del files  # the weights are not needed: the graph has its own
    variant = variant or os.environ.get(VARIANT_ENV) or DEFAULT_VARIANT
    data, meta, source = graph_for(path, card.hash, variant, require_signature)
    if meta.get("class_names") != list(card.class_names):
        raise ModelPackageError(path, "the LiteRT graph does not match the model's classes")
    try:
        graph = LiteGraph(data)
    except ImportError:
        raise ModelPackageError(path, "LiteRT is not installed (pip install ai-edge-litert), "
                                      "or run with --runtime tensorflow") from None
    except (ValueError, RuntimeError) as exc:
        raise ModelPackageError(path, f"cannot open the LiteRT graph ({exc})") from None
    package = ModelPackage(model=None, card=card, path=path, extras=extras)
    return LiteClassifier(package, graph, meta, batch_size, apply_calibration, source)
