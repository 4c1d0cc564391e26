"""The population check: is this a film of a young child, the right way up?

The bundled models were trained on frontal chest films of children aged 1 to 5 from one
hospital. An adult's chest film is a chest X-ray, so the feature distance and the image
statistics of :mod:`.guard` pass it, and the model answers with confidence for a patient
it never saw. Two checks read the image alone (no network weights: they cost a few
milliseconds and stay valid when the model is retrained), and one reads the header:

- **adult-like film**: a logistic model on :func:`image_features` (histograms of
  gradient orientation on a 7 x 7 grid, which see the slope of the ribs and the shape of
  the chest, and the film's brightness on an 8 x 8 grid), fitted on the package's
  fitting films (children) against adult films (``pneumonet guard fit --adults DIR``).
  Its flag threshold is the ``percentile``-th percentile of the children's 5-fold
  cross-fitted scores; the ratio is 0 at the children's median score and 1.0 at the
  threshold.
- **orientation**: a multinomial logistic model on the same features, fitted on the
  fitting films turned by 0, 90, 180 and 270 degrees (and mirrored, which a chest film
  may be). A film the model is sure is turned (the probability of "upright" below 0.5)
  is withheld with the turn it looks like: the ratio is ``2 * (1 - P(upright))``.
- **age** (:func:`age_evidence`): DICOM Patient's Age, or the age from Patient's Birth
  Date and Study Date, outside the accepted ages (the card's, 1 to 5 years, unless the
  site's setting ``accepted_ages`` or ``--accept-ages`` says otherwise) counts like a
  contradicting DICOM tag. A header age within the accepted ages halves the adult-like
  ratio (:data:`AGE_CONFIRMED_WEIGHT`): the header speaks for the patient, but a clearly
  adult film is still withheld.

The models live in the package's extra file ``population.npz`` (numpy arrays, no
pickle); what they were fitted on and their measured rates are in ``card.ood["population"]``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from pneumonet_core.imaging.clinical_warnings import MAX_AGE_YEARS, MIN_AGE_YEARS, age_from_dates, parse_dicom_age

#: Name of the population models among the package's extra files.
POPULATION_FILE = "population.npz"
#: What :func:`image_features` computes; a package fitted on other features is refused.
FEATURES_ID = "hog7x9-grid8-v1"
#: The ages (whole years, both included) the bundled models were trained on.
DEFAULT_AGES = (MIN_AGE_YEARS, MAX_AGE_YEARS)
#: The adult-like ratio of a scan whose header age is within the accepted ages is multiplied by this.
AGE_CONFIRMED_WEIGHT = 0.5
#: Quarter turns, as the orientation model's classes: how the film looks turned.
TURNS = ("upright", "turned 90 degrees counter-clockwise", "upside down", "turned 90 degrees clockwise")
_FIELDS = ("mean", "scale", "adult_coef", "adult_intercept", "turn_coef", "turn_intercept")
_CELLS, _BINS, _GRID = 7, 9, 8


def image_features(inputs: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The check's features (N, 505) of model inputs (N, 224, 224, 1), uint8 or float in [0, 1].

    Computed on the model input (every scan is squashed to it), so a film's size, format
    and aspect ratio change nothing; the brightness grid is standardised per film so a
    darker or brighter site does not.
    """
    inputs = np.asarray(inputs)
    parts = [_features(inputs[i : i + chunk]) for i in range(0, len(inputs), chunk)]  # bounded memory
    return np.concatenate(parts) if parts else np.zeros((0, _CELLS * _CELLS * _BINS + _GRID * _GRID))


def _features(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    n, side = len(x), x.shape[1]
    half = x.reshape(n, side // 2, 2, side // 2, 2).mean(axis=(2, 4))  # 112 x 112: the ribs, not the grain
    gx, gy = np.zeros_like(half), np.zeros_like(half)
    gx[:, :, 1:-1] = half[:, :, 2:] - half[:, :, :-2]
    gy[:, 1:-1, :] = half[:, 2:, :] - half[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    bins = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * _BINS).astype(np.int32), _BINS - 1)
    cell = half.shape[1] // _CELLS
    hog = np.zeros((n, _CELLS, _CELLS, _BINS), np.float32)
    for k in range(_BINS):
        hog[..., k] = np.where(bins == k, magnitude, 0.0).reshape(n, _CELLS, cell, _CELLS, cell).sum(axis=(2, 4))
    hog /= np.linalg.norm(hog, axis=3, keepdims=True) + 1e-6
    flat = x.reshape(n, side, side)
    z = (flat - flat.mean(axis=(1, 2), keepdims=True)) / (flat.std(axis=(1, 2), keepdims=True) + 1e-6)
    block = side // _GRID
    grid = z.reshape(n, _GRID, block, _GRID, block).mean(axis=(2, 4))
    return np.hstack([hog.reshape(n, -1), grid.reshape(n, -1)]).astype(np.float32)


def turned(inputs: np.ndarray, quarter_turns: int) -> np.ndarray:
    """Model inputs (N, H, W, 1) turned counter-clockwise by ``quarter_turns`` x 90 degrees."""
    return np.ascontiguousarray(np.rot90(inputs, quarter_turns, axes=(1, 2)))


@dataclass
class PopulationModel:
    """The fitted population models: standardisation, adult-like (logistic) and turn (multinomial)."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    adult_coef: np.ndarray  # (D,), or (0,) without an adult-like model
    adult_intercept: float
    turn_coef: np.ndarray  # (4, D)
    turn_intercept: np.ndarray  # (4,)

    @property
    def has_adult_model(self) -> bool:
        return self.adult_coef.size > 0

    def _standard(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float64) - self.mean) / self.scale

    def adult_scores(self, features: np.ndarray) -> np.ndarray:
        """The adult-like model's log-odds for each film (higher: more adult-like)."""
        return self._standard(features) @ self.adult_coef + self.adult_intercept

    def turn_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, 4) probabilities of each of :data:`TURNS`."""
        logits = self._standard(features) @ self.turn_coef.T + self.turn_intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                 adult_coef=self.adult_coef.astype(np.float32), adult_intercept=np.float32(self.adult_intercept),
                 turn_coef=self.turn_coef.astype(np.float32), turn_intercept=self.turn_intercept.astype(np.float32))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PopulationModel:
        """Read ``population.npz``; raises ValueError when it is not a consistent model."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                a = {name: np.asarray(npz[name], dtype=np.float64) for name in _FIELDS}
        except (KeyError, OSError, EOFError, ValueError) as exc:
            raise ValueError(f"unreadable population model ({type(exc).__name__}: {exc})") from None
        d = a["mean"].shape[0] if a["mean"].ndim == 1 else -1
        if (a["scale"].shape != (d,) or a["adult_coef"].shape not in ((d,), (0,)) or a["turn_coef"].shape != (4, d)
                or a["turn_intercept"].shape != (4,) or not all(np.isfinite(v).all() for v in a.values())
                or not (a["scale"] > 0).all()):
            raise ValueError("inconsistent population model (array shapes or values)")
        return cls(a["mean"], a["scale"], a["adult_coef"], float(a["adult_intercept"]), a["turn_coef"],
                   a["turn_intercept"])


def adult_ratios(model: PopulationModel, settings: dict, features: np.ndarray) -> np.ndarray:
    """The adult-like ratio of each film: 0 at the children's median score, 1.0 at the threshold."""
    median, threshold = float(settings["children_median"]), float(settings["threshold"])
    return np.maximum(0.0, (model.adult_scores(features) - median) / (threshold - median))


def turn_ratios(model: PopulationModel, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ratio ``2 * (1 - P(upright))``, the most likely turn) of each film."""
    p = model.turn_probabilities(features)
    return 2.0 * (1.0 - p[:, 0]), p[:, 1:].argmax(axis=1) + 1


def parse_age_range(text: str) -> tuple[float, float]:
    """"MIN-MAX" in whole years ("1-5", "0-17") as (min, max); raises ValueError when it is not one."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*-\s*(\d{1,3})\s*", str(text or ""))
    if not match or int(match.group(1)) > int(match.group(2)):
        raise ValueError(f"{text!r} is not an age range MIN-MAX in years (such as 1-5)")
    return float(match.group(1)), float(match.group(2))


def header_age(metadata: dict) -> tuple[float, str] | None:
    """(years, words) from Patient's Age, or from Birth Date and Study Date; None when neither is readable."""
    recorded = str(metadata.get("patient_age") or "").strip()
    if recorded:
        return parse_dicom_age(recorded)
    return age_from_dates(metadata.get("patient_birth_date"), metadata.get("study_date"))


def within(years: float, ages: tuple[float, float]) -> bool:
    """True when ``years`` is within MIN to MAX whole years (up to the day before MAX + 1)."""
    return ages[0] <= years < ages[1] + 1


def ages_text(ages: tuple[float, float]) -> str:
    return f"{ages[0]:g} to {ages[1]:g} years"


def age_evidence(metadata: dict, ages: tuple[float, float]) -> tuple[str | None, bool]:
    """(reason against, or None; whether the header gives an age within ``ages``)."""
    age = header_age(metadata or {})
    if age is None:
        return None, False
    years, words = age
    if within(years, ages):
        return None, True
    return f"DICOM patient age {words} is outside the ages this model accepts ({ages_text(ages)})", False
