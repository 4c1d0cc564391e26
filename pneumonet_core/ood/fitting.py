"""Fit a package's guard on films: at the end of every training run, and ``pneumonet guard fit``.

The fitting films' guard features give the feature reference and its threshold
(the ``percentile``-th percentile of their own distances), and their image statistics
give the statistics' limits; they and adult films (``adults``) give the population check
(:mod:`.population_fitting`). The settings go into ``card.ood`` (part of the content hash),
the reference into the package's extra file ``ood.npz`` and the population models into
``population.npz``; :func:`fit_folder` writes a new package and leaves the input untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pneumonet_core.ood import image_stats
from pneumonet_core.ood.features import FEATURE_LAYER, feature_model, guard_layer, has_layer, predict_with_features
from pneumonet_core.ood.guard import DEFAULT_PERCENTILE, FLAG_AT, REFERENCE_FILE, Guard
from pneumonet_core.ood.population import POPULATION_FILE
from pneumonet_core.ood.population_fitting import DEFAULT_POPULATION_PERCENTILE, adult_films, fit_population
from pneumonet_core.ood.reference import DEFAULT_COMPONENTS, METHOD, fit_reference
from pneumonet_core.ood.tags import CONFIRMED_FEATURE_WEIGHT
from pneumonet_core.runtime.predict import predict_class_probabilities

#: Fewer fitting films than this give image-statistic limits only, no feature reference.
MIN_FEATURE_FILMS = 20
SETTINGS_VERSION = 1
#: Folds of the cross-fitted distances that set the threshold.
FOLDS = 5


def choose_layer(package, layer: str | None = None) -> str | None:
    """The layer to fit on: ``layer``, else the architecture's guard layer, else ``gap``; None if absent."""
    for candidate in (layer,) if layer else (guard_layer(package.card), FEATURE_LAYER):
        if has_layer(package.model, candidate):
            return candidate
    return None


def fit_guard(inputs: np.ndarray, features: np.ndarray | None, percentile: float = DEFAULT_PERCENTILE,
              components: int = DEFAULT_COMPONENTS, fitted_on: dict | None = None,
              held_out: dict | None = None, layer: str = FEATURE_LAYER) -> tuple[dict, bytes | None]:
    """(``card.ood`` settings, ``ood.npz`` bytes or None) fitted on films' model inputs and features.

    ``held_out`` ({name: (inputs, features)}, films not fitted on) adds the flag rate on each
    to the settings, an honest check of the percentile.
    """
    if not 50.0 <= percentile < 100.0:
        raise ValueError(f"percentile {percentile} must be at least 50 and below 100")
    settings = {
        "version": SETTINGS_VERSION,
        "image_statistics": image_stats.fit_ranges(image_stats.input_statistics(inputs)),
        "colour_limit": image_stats.COLOUR_LIMIT,
        "aspect_limit": image_stats.ASPECT_LIMIT,
        "flag_at": FLAG_AT,
        "confirmed_feature_weight": CONFIRMED_FEATURE_WEIGHT,
        "fitted_on": dict(fitted_on or {}, images=len(inputs)),
    }
    reference, distances = None, None
    if features is not None and len(features) >= MIN_FEATURE_FILMS:
        reference = fit_reference(features, components)
        distances = cross_fitted_distances(features, components, FOLDS)
        settings.update(method=METHOD, layer=layer, components=int(reference.components.shape[0]),
                        dimensions=reference.dimensions, percentile=float(percentile),
                        threshold=round(float(np.percentile(distances, percentile)), 6),
                        threshold_from=f"{FOLDS}-fold cross-fitted distances of the fitting films",
                        reference_file=REFERENCE_FILE)
    else:
        settings["note"] = (f"no feature reference: {len(inputs)} films (at least {MIN_FEATURE_FILMS} needed)"
                            if features is not None else "no feature reference: the model has no guard layer")
    guard = Guard(settings, reference)
    scores = guard.scores(inputs)  # the statistics, and the features as cross-fitted above
    if distances is not None:
        scores = np.maximum(scores, distances / settings["threshold"])
    settings["fit_flag_rate"] = round(float(np.mean(scores >= FLAG_AT)), 4)
    if held_out:
        settings["held_out_flag_rate"] = {name: flag_rate(guard, x, f) for name, (x, f) in held_out.items()}
    return settings, (reference.to_bytes() if reference is not None else None)


def cross_fitted_distances(features: np.ndarray, components: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each film's distance from a reference fitted on the other folds' films.

    A reference is closer to the films it was fitted on than to new ones (its covariance
    is fitted to them), the more so the fewer the films: a percentile of in-sample
    distances would flag more new chest films than it says. Out-of-fold distances are
    what a new film of the same kind gets.
    """
    fold = np.random.default_rng(seed).permutation(len(features)) % folds
    distances = np.empty(len(features))
    for k in range(folds):
        held = fold == k
        distances[held] = fit_reference(features[~held], components).distances(features[held])
    return distances


def flag_rate(guard: Guard, inputs: np.ndarray, features: np.ndarray | None) -> float | None:
    """Share of films whose pixels or features reach the flag score (None without films)."""
    if not len(inputs):
        return None
    return round(float(np.mean(guard.scores(inputs, features) >= FLAG_AT)), 4)


class PackagePasses:
    """A package's forward passes that give its outputs and its guard layer's features at once.

    One two-output model serves every set of films (each new Keras model traces its graph
    again: seconds for a ResNet152V2), and each set's pass is kept while the set is alive,
    so the end of a training run measures and fits the guard on one pass per set.
    """

    def __init__(self, package, batch_size: int = 16, layer: str | None = None) -> None:
        self.package, self.batch_size = package, batch_size
        self.layer = choose_layer(package, layer)
        # Without a layer there are no features: the plain model gives the outputs.
        self.model = feature_model(package.model, self.layer) if self.layer else None
        self._done: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}

    def run(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(outputs (N, classes), features (N, D) or None) of packed model inputs."""
        kept = self._done.get(id(inputs))
        if kept is not None and kept[0] is inputs:  # the array itself is held, so its id is its own
            return kept[1], kept[2]
        if self.model is None:
            outputs, features = predict_class_probabilities(self.package.model, inputs, self.batch_size), None
        else:
            outputs, features = predict_with_features(self.model, inputs, self.batch_size)
        self._done[id(inputs)] = (inputs, outputs, features)
        return outputs, features

    def features(self, inputs: np.ndarray) -> np.ndarray | None:
        """The guard layer's features of ``inputs`` (None without films or without a layer)."""
        return self.run(inputs)[1] if len(inputs) else None


def fit_package_guard(package, inputs: np.ndarray, batch_size: int = 16, percentile: float = DEFAULT_PERCENTILE,
                      components: int = DEFAULT_COMPONENTS, fitted_on: dict | None = None, layer: str | None = None,
                      held_out: dict | None = None, adults: dict | None = None,
                      population_percentile: float = DEFAULT_POPULATION_PERCENTILE,
                      passes: PackagePasses | None = None):
    """(card with ``ood`` set, extra files {``ood.npz``: bytes or None, ``population.npz``: bytes}).

    ``held_out`` ({name: packed inputs}) are films not fitted on, whose flag rate is recorded.
    ``adults`` ({"inputs", "sites", "sets"}: packed adult films, each one's site, and what
    the sets are) fits the population check's adult-like model; without it only the
    orientation model is fitted. ``passes`` (of this package and ``layer``) reuses the
    passes already made on these films.
    """
    passes = passes or PackagePasses(package, batch_size, layer)
    features = passes.features(inputs)
    checks = {name: (x, passes.features(x)) for name, x in (held_out or {}).items()}
    settings, reference = fit_guard(inputs, features, percentile, components, fitted_on, checks, passes.layer or "")
    adults = adults or {}
    settings["population"], population = fit_population(inputs, adults.get("inputs"), adults.get("sites"),
                                                        population_percentile, adults.get("sets"))
    card = dataclasses.replace(package.card, ood=settings, notes=list(package.card.notes))
    return card, {REFERENCE_FILE: reference, POPULATION_FILE: population}


def decode_adults(folders: list[Path], progress: Callable[[int, int], None] | None = None) -> dict:
    """The ``adults`` of :func:`fit_package_guard` from ``--adults`` folders (their films' sites, see
    :func:`~.population_fitting.adult_films`); raises DatasetError when no film can be read."""
    from pneumonet_core.data.batches import decode_inputs
    from pneumonet_core.errors import DatasetError

    files, sites = adult_films(folders)
    decoded = decode_inputs(files, progress=progress)
    if len(decoded.inputs) < 2:
        raise DatasetError(f"{', '.join(map(str, folders))}: fewer than 2 adult films could be read")
    kept = [sites[i] for i in decoded.kept]
    sets = {Path(f).name: f"{sum(s.split('/')[0] == Path(f).name for s in kept)} films, "
                          f"{len({s for s in kept if s.split('/')[0] == Path(f).name})} sites" for f in folders}
    return {"inputs": decoded.inputs, "sites": kept, "sets": sets, "errors": decoded.errors}


def fit_folder(data_dir: Path, model_path: Path, out: Path, percentile: float = DEFAULT_PERCENTILE,
               components: int = DEFAULT_COMPONENTS, batch_size: int = 16, layer: str | None = None,
               progress: Callable[[int, int], None] | None = None, adults: list[Path] | None = None,
               population_percentile: float = DEFAULT_POPULATION_PERCENTILE) -> dict:
    """Write ``out``: the package ``model_path`` with its guard fitted on the films of ``data_dir``.

    ``data_dir`` holds NORMAL/ and PNEUMONIA/ (every film is used, whatever its patient);
    ``adults`` are folders of adult films for the population check. Returns a report
    (out, hash, films, threshold, fit flag rate, unreadable files).
    """
    from pneumonet_core.data.batches import decode_inputs
    from pneumonet_core.data.discovery import find_labelled_images
    from pneumonet_core.errors import DatasetError, PneumonetError
    from pneumonet_core.evaluation.folder import FolderPredictions
    from pneumonet_core.evaluation.site_calibration import site_record
    from pneumonet_core.models.package import load_package, rewrite_package

    data_dir, model_path, out = Path(data_dir), Path(model_path), Path(out)
    if out.resolve() == model_path.resolve():
        raise PneumonetError(f"{out}: --out must differ from --model (the input package stays untouched)")
    package = load_package(model_path)
    images = find_labelled_images(data_dir)
    decoded = decode_inputs([im.path for im in images], progress=progress)
    if not len(decoded.inputs):
        raise DatasetError(f"{data_dir}: no film could be read")
    kept = [images[i] for i in decoded.kept]
    probe = FolderPredictions(kept, np.zeros(len(kept)), decoded.errors)
    fitted_on = {k: v for k, v in site_record(data_dir, probe).items() if k != "pneumonia_share"}
    adult_set = decode_adults(adults) if adults else None
    card, extras = fit_package_guard(package, decoded.inputs, batch_size, percentile, components, fitted_on, layer,
                                     adults=adult_set, population_percentile=population_percentile)
    sealed = rewrite_package(model_path, out, card, extras=extras)
    errors = decoded.errors + (adult_set["errors"] if adult_set else [])
    return {"out": str(out), "hash": sealed.hash, "guard": card.ood, "errors": errors}
