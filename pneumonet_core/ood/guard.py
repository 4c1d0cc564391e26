"""The out-of-distribution guard: is a scan a chest X-ray this model knows?

Three kinds of evidence, each turned into a *ratio* that is 1.0 at its limit:

- **features** (when the package has a fitted reference): the distance of the scan's
  features (:mod:`.features`: a mid-network feature map, pooled) from the fitting films
  (:mod:`.reference`), divided by the flag
  threshold, the ``percentile``-th percentile of the fitting films' own distances;
- **image statistics** (always): colour, aspect ratio, dark, white and flat areas, grey
  levels, sharp edges (:mod:`.image_stats`), with limits learned from the fitting films
  (:data:`~.image_stats.DEFAULT_RANGES` when the card has none);
- **DICOM tags** (:mod:`.tags`): a Modality that is not a radiograph, or a Body Part
  Examined that is not the chest, each adds 1.0; a header that says "chest radiograph"
  (CR/DX/RG and the chest) weighs the feature ratio by ``confirmed_feature_weight`` (0.75);
- **population** (:mod:`.population`): an adult-like film (``adult``, when the package was
  fitted with adult films), a film turned by 90 or 180 degrees (``orientation``), and a
  header age outside the accepted ages (adds 1.0, like a contradicting tag).

``ood_score`` = the largest ratio + 1.0 per contradicting tag; the scan is flagged when
``ood_score >= 1``, and ``ood_reason`` names what reached its limit. A package without a
feature reference (``card.ood`` empty, or fitted without one) is guarded by the image
statistics and tags alone: the same score and threshold, without the features term.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pneumonet_core.models.card import describe_guard
from pneumonet_core.ood import image_stats
from pneumonet_core.ood import population as pop
from pneumonet_core.ood.features import FEATURE_LAYER
from pneumonet_core.ood.reference import METHOD, FeatureReference
from pneumonet_core.ood.tags import CONFIRMED_FEATURE_WEIGHT, TAG_WEIGHT, confirms_chest_radiograph, tag_evidence

if TYPE_CHECKING:  # for annotations only: the guard does not import the decoders
    from pneumonet_core.imaging.scan import SourceInfo

#: Name of the reference file among the package's extra files.
REFERENCE_FILE = "ood.npz"
#: The fitting films' percentile that sets the feature threshold: about 0.5% of films
#: like the fitting films are flagged by their features.
DEFAULT_PERCENTILE = 99.5
#: A scan is flagged from this score on.
FLAG_AT = 1.0
#: A ratio that could not be computed (non-finite features) counts as this.
_UNMEASURABLE = 1000.0
#: The population checks' ratios (see :func:`_strongest`).
_POPULATION = ("orientation", "adult")
#: At most this many reasons are named.
_MAX_REASONS = 2


@dataclass
class Assessment:
    """The guard's answer for one scan."""

    out_of_distribution: bool
    score: float
    reason: str | None
    ratios: dict = field(default_factory=dict)


class Guard:
    """The guard of one model package: its settings (``card.ood``) and feature reference."""

    def __init__(self, settings: dict | None = None, reference: FeatureReference | None = None,
                 population: pop.PopulationModel | None = None, accepted_ages: tuple[float, float] | None = None):
        self.settings = dict(settings or {})
        self.ranges = self.settings.get("image_statistics") or image_stats.DEFAULT_RANGES
        self.reference = reference
        self.threshold = float(self.settings.get("threshold") or 0.0)
        if reference is not None and not self.threshold > 0:
            raise ValueError("a feature reference needs a positive threshold in card.ood")
        self.population = population
        self.population_settings = dict(self.settings.get("population") or {})
        adult = self.population_settings.get("adult") or {}
        if population is not None and population.has_adult_model and not adult.get("threshold", 0) > adult.get(
                "children_median", 0):
            raise ValueError("an adult-like model needs a threshold above the children's median in card.ood")
        #: The ages (years, MIN to MAX) a header may give: the site's setting, else the card's.
        self.accepted_ages = accepted_ages or self.card_ages

    @property
    def card_ages(self) -> tuple[float, float]:
        """The ages the card states the model was trained on (1 to 5 years unless it says otherwise)."""
        ages = self.population_settings.get("ages_years") or pop.DEFAULT_AGES
        return float(ages[0]), float(ages[1])

    @classmethod
    def of_package(cls, package, accepted_ages: tuple[float, float] | None = None) -> Guard:
        """The guard a loaded package carries; raises ValueError when its reference is missing or broken.

        ``accepted_ages`` (years, MIN to MAX) replaces the card's ages for the header age check.
        """
        settings = package.card.ood or {}
        reference = None
        if settings.get("method") not in (None, METHOD):  # refuse rather than guard less than the card says
            raise ValueError(f"unknown method {settings['method']!r} in card.ood")
        if settings.get("method") == METHOD:
            name = settings.get("reference_file", REFERENCE_FILE)
            if name not in package.extras:
                raise ValueError(f"card.ood names the reference {name}, which the package does not hold")
            reference = FeatureReference.from_bytes(package.extras[name])
        population = None
        if settings.get("population"):
            block = settings["population"]
            if block.get("features") != pop.FEATURES_ID:
                raise ValueError(f"unknown population features {block.get('features')!r} in card.ood")
            name = block.get("file", pop.POPULATION_FILE)
            if name not in package.extras:
                raise ValueError(f"card.ood names the population model {name}, which the package does not hold")
            population = pop.PopulationModel.from_bytes(package.extras[name])
        return cls(settings, reference, population, accepted_ages)

    @property
    def layer(self) -> str:
        return self.settings.get("layer", FEATURE_LAYER)

    @property
    def needs_features(self) -> bool:
        return self.reference is not None

    def description(self) -> str:
        """One phrase for reports and ``pneumonet info``."""
        return describe_guard(self.settings)

    def measure(self, inputs: np.ndarray, features: np.ndarray | None = None) -> tuple[dict, dict]:
        """(statistic values, ratios) of many model inputs (N, 224, 224, 1) and their features (N, D).

        Only what the pixels and features say: no source (colour, aspect ratio) and no tags.
        """
        values = image_stats.input_statistics(inputs)
        ratios = image_stats.statistic_ratios(values, self.ranges)
        if self.reference is not None and features is not None:
            distance = self.reference.distances(features)
            ratios["features"] = np.where(np.isfinite(distance), distance / self.threshold, _UNMEASURABLE)
        if self.population is not None:
            found = pop.image_features(inputs)
            if self.population.has_adult_model:
                ratios["adult"] = pop.adult_ratios(self.population, self.population_settings["adult"], found)
            ratios["orientation"], values["turn"] = pop.turn_ratios(self.population, found)
        return values, ratios

    def scores(self, inputs: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """The pixel-and-feature part of ``ood_score`` for many model inputs (what fitting reports)."""
        _, ratios = self.measure(inputs, features)
        return np.max(np.stack(list(ratios.values())), axis=0) if ratios else np.zeros(len(inputs))

    def assess(self, model_input: np.ndarray, source: SourceInfo | None, metadata: dict,
               features: np.ndarray | None = None) -> Assessment:
        """Assess one scan from its model input (224, 224, 1), its source (None: not known),
        metadata dict and features."""
        batch = None if features is None else np.asarray(features).reshape(1, -1)
        values, many = self.measure(np.asarray(model_input)[None], batch)
        values = {k: float(v[0]) for k, v in values.items()}
        ratios = {k: float(v[0]) for k, v in many.items()}
        ratios.update(image_stats.source_ratios(source, self.settings.get("colour_limit", image_stats.COLOUR_LIMIT),
                                                self.settings.get("aspect_limit", image_stats.ASPECT_LIMIT)))
        tags = tag_evidence(metadata or {})
        if "features" in ratios and confirms_chest_radiograph(metadata or {}):
            ratios["features"] *= float(self.settings.get("confirmed_feature_weight", CONFIRMED_FEATURE_WEIGHT))
        age_against, age_within = pop.age_evidence(metadata or {}, self.accepted_ages)
        tags += [age_against] if age_against else []
        if "adult" in ratios and age_within:  # the header speaks for the patient's age
            ratios["adult"] *= pop.AGE_CONFIRMED_WEIGHT
        score = max(ratios.values(), default=0.0) + TAG_WEIGHT * len(tags)
        flagged = score >= FLAG_AT
        reason = None
        if flagged:
            phrases = tags + [_phrase(name, ratio, values, source, self.card_ages)
                              for ratio, name in _strongest(ratios, bool(tags))]
            reason = "; ".join(phrases[:_MAX_REASONS])
        return Assessment(flagged, round(float(score), 4), reason, {k: round(v, 4) for k, v in ratios.items()})


def _strongest(ratios: dict, tagged: bool) -> list[tuple[float, str]]:
    """The ratios at their limit, in the order the reason names them.

    The population checks (adult-like, orientation) judge chest films; for anything else
    they answer at random. They are named only when neither a tag nor an image statistic
    says "not a chest X-ray"; then the strongest comes first (a turn wins a tie: a turned
    film also looks adult-like and unlike the fitting films).
    """
    flagged = [(r, n) for n, r in ratios.items() if r >= FLAG_AT]
    if tagged or any(n not in _POPULATION and n != "features" for _, n in flagged):
        flagged = [(r, n) for r, n in flagged if n not in _POPULATION]
    return sorted(flagged, key=lambda item: (-round(item[0], 1), item[1] != "orientation"))


def _phrase(name: str, ratio: float, values: dict, source: SourceInfo | None, ages: tuple[float, float]) -> str:
    if name == "features":
        return f"image unlike the chest X-rays the model was trained on ({ratio:.2f} x the limit)"
    if name == "adult":
        return (f"looks like an adult's chest film; the model was trained on children aged "
                f"{pop.ages_text(ages)} ({ratio:.2f} x the limit)")
    if name == "orientation":
        return (f"the film looks {pop.TURNS[int(values.get('turn', 2))]}: turn it upright and classify it again")
    return image_stats.describe(name, values, source)
