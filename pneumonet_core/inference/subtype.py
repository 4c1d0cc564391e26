"""The bacterial-or-viral second opinion on a PNEUMONIA decision.

A subtype model is a package trained with ``pneumonet train --labels subtype``: pneumonia
films only, one sigmoid output, the probability that the pneumonia is viral. It runs
after the pneumonia model, on the films that model decided PNEUMONIA (and did not
withhold), in one batched pass; its calibration and threshold are its own card's
(``pneumonet calibrate`` fits them on films whose names give the subtype). A probability
inside the card's ``uncertain_band`` is reported as undetermined rather than forced into
a side: the band is where the model's calls are no better than a coin on external films.

Which subtype model runs: ``$PNEUMONET_SUBTYPE_MODEL``, else the ``subtype_model``
setting, else the bundled one; "none" in either turns the opinion off.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pneumonet_core.results import UNDETERMINED, ScanResult

log = logging.getLogger(__name__)

#: The bundled subtype model's file name in ``resources/models``.
BUNDLED_SUBTYPE = "pneumonet-subtype.pneumonet"
SUBTYPE_ENV = "PNEUMONET_SUBTYPE_MODEL"
#: The ``subtype_model`` value (or environment value) that turns the opinion off.
OFF = "none"
#: The uncertain band a card gets when calibrated (``pneumonet calibrate``): viral probability
#: within this distance of the threshold, on the calibrated scale, is "undetermined".
BAND_HALF_WIDTH = 0.15


def is_subtype_card(card) -> bool:
    """True when the card is a bacterial/viral model (it runs after a pneumonia model, never alone)."""
    return card.is_subtype


def band_around(threshold: float, half_width: float = BAND_HALF_WIDTH) -> list[float]:
    """The documented uncertain band: ``threshold`` +- ``half_width``, inside [0, 1]."""
    return [round(max(0.0, threshold - half_width), 4), round(min(1.0, threshold + half_width), 4)]


def subtype_call(viral_probability: float, threshold: float, band=None) -> str:
    """"VIRUS", "BACTERIA", or UNDETERMINED when the probability lies inside ``band`` [low, high)."""
    if band and float(band[0]) <= viral_probability < float(band[1]):
        return UNDETERMINED
    return "VIRUS" if viral_probability >= threshold else "BACTERIA"


def chosen_subtype_path() -> Path | None:
    """The subtype model to run (see the module docstring); None when off or none is bundled."""
    from pneumonet_core.models.registry import bundled_models_dir
    from pneumonet_core.settings import load_settings

    choice = os.environ.get(SUBTYPE_ENV)
    if choice is None:
        choice = load_settings().values.get("subtype_model")
    if choice is not None and str(choice).strip().lower() in (OFF, ""):
        return None
    if choice:
        return Path(choice)
    bundled = bundled_models_dir() / BUNDLED_SUBTYPE
    return bundled if bundled.is_file() else None


class SubtypeModel:
    """A loaded subtype package: calibrated viral probabilities, the call, and its heat map."""

    def __init__(self, classifier):
        if not is_subtype_card(classifier.card):
            raise ValueError(f"{classifier.card.name} is not a bacterial/viral model (classes "
                             f"{', '.join(classifier.card.class_names)})")
        self.classifier = classifier

    @property
    def card(self):
        return self.classifier.card

    @property
    def threshold(self) -> float:
        return float(self.card.threshold)

    @property
    def band(self) -> list[float] | None:
        return list(self.card.uncertain_band) or None

    def viral_probability(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated viral probabilities (N,) for preprocessed inputs (N, 224, 224, 1)."""
        if len(inputs) == 0:
            return np.zeros(0, np.float64)
        raw = self.classifier.predict_inputs(np.asarray(inputs))[:, -1]
        return np.asarray(self.classifier.calibrated(raw), np.float64)

    def call(self, viral_probability: float) -> str:
        return subtype_call(viral_probability, self.threshold, self.band)

    def add_to(self, results: list[ScanResult], inputs: list[np.ndarray | None]) -> list[ScanResult]:
        """``results`` with the opinion on each PNEUMONIA decision that has its model input, in one pass."""
        rows = [(i, x) for i, (r, x) in enumerate(zip(results, inputs)) if r.label == "PNEUMONIA" and x is not None]
        if not rows:
            return list(results)
        p = self.viral_probability(np.stack([x for _, x in rows]))
        out = list(results)
        for (i, _), viral in zip(rows, p):
            if not np.isfinite(viral):
                continue  # no opinion from NaN; the pneumonia decision stands on its own
            out[i] = dataclasses.replace(out[i], subtype=self.call(float(viral)), viral_probability=float(viral))
        return out

    def heatmap(self, scan, toward: str = "VIRUS") -> np.ndarray:
        """The Grad-CAM map of the regions that drove ``toward`` (VIRUS or BACTERIA), 0..1 at the scan's size."""
        # The subtype classifier's decision labels name its second class PNEUMONIA (a one-output
        # head): that label explains VIRUS, NORMAL explains BACTERIA.
        probe = ScanResult(path=scan.path, probability=1.0 if toward == "VIRUS" else 0.0,
                           label="PNEUMONIA" if toward == "VIRUS" else "NORMAL", threshold=0.5)
        return self.classifier.heatmap(scan, probe)


class SubtypeSlot:
    """The subtype model a pneumonia classifier uses, loaded on the first PNEUMONIA decision.

    Most films are never pneumonia in a test run or a normal worklist, so the load waits
    for the first one. A subtype model that cannot be loaded leaves the pneumonia decisions
    as they are and says why in each of their warnings (``problem``), never silently.
    """

    def __init__(self, path: Path | None, loader: Callable[[Path], SubtypeModel] | None = None):
        self.path = path
        self._loader = loader  # :func:`.classifier.load_subtype_model`, given by the classifier (no cycle)
        self._model: SubtypeModel | None = None
        self.problem: str | None = None
        self._lock = threading.Lock()

    def model(self) -> SubtypeModel | None:
        if self.path is None or self._loader is None:
            return None
        with self._lock:
            if self._model is None and self.problem is None:
                from pneumonet_core.errors import PneumonetError

                try:
                    self._model = self._loader(self.path)
                except (PneumonetError, OSError, ValueError) as exc:
                    self.problem = f"bacterial/viral opinion unavailable: {exc}"
                    log.warning("%s", self.problem)
            return self._model

    def add_to(self, results: list[ScanResult], inputs: list[np.ndarray | None]) -> list[ScanResult]:
        if self.path is None or not any(r.label == "PNEUMONIA" for r in results):
            return list(results)
        model = self.model()
        if model is None:
            why = self.problem or "bacterial/viral opinion unavailable"
            return [dataclasses.replace(r, warnings=[*r.warnings, why]) if r.label == "PNEUMONIA" else r
                    for r in results]
        return model.add_to(results, inputs)
