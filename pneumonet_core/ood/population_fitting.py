"""Fit the population check (:mod:`.population`) on a package's fitting films and adult films.

``pneumonet guard fit DIR --adults ADULTS...`` calls :func:`fit_population` with the
fitting films of DIR (children) and the adult films; every fit also fits the orientation
model, which needs the children only. The adult-like model is measured honestly:

- its threshold is a percentile of the children's 5-fold *cross-fitted* scores (films
  scored by a model that did not see them), so new children of the same kind are
  flagged at about the rate the card says;
- its detection rate is *leave-one-site-out*: each site's adult films are scored by a
  model fitted without that site, which is what an adult film from a new hospital gets
  (a model fitted on one site's films learns that site's look, too). A site is a
  sub-folder of an ``--adults`` folder (or the folder itself when its films lie directly
  in it or in one sub-folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pneumonet_core.ood.population import (
    DEFAULT_AGES,
    FEATURES_ID,
    POPULATION_FILE,
    PopulationModel,
    image_features,
    turn_ratios,
    turned,
)

#: The children's cross-fitted score percentile that sets the adult-like threshold.
DEFAULT_POPULATION_PERCENTILE = 99.5
#: L2 strength of the logistic models (inverse: smaller is smoother), chosen by leave-one-site-out.
ADULT_C, TURN_C = 0.03, 0.1
#: Children films the orientation model is fitted on (each in 4 turns and mirrored; at most 3/4 of
#: the fitting films) and checked on.
TURN_FILMS, TURN_CHECK_FILMS = 1500, 500
FOLDS = 5


def adult_films(folders: list[Path]) -> tuple[list[Path], list[str]]:
    """(image files, their site) under each ``--adults`` folder: a site per sub-folder holding films."""
    from pneumonet_core.data.discovery import IMAGE_SUFFIXES

    files, sites = [], []
    for folder in folders:
        folder = Path(folder)
        found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        tops = {p.relative_to(folder).parts[0] if len(p.relative_to(folder).parts) > 1 else "" for p in found}
        for path in found:
            parts = path.relative_to(folder).parts
            sub = parts[0] if len(parts) > 1 and len(tops) > 1 else ""
            files.append(path)
            sites.append(f"{folder.name}/{sub}" if sub else folder.name)
    return files, sites


def _logistic(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    weights = np.where(y == 1, (y == 0).sum() / max(1, (y == 1).sum()), 1.0)  # the classes weigh the same
    return LogisticRegression(C=c, max_iter=3000).fit(x, y, sample_weight=weights)


def _adult_model(children: np.ndarray, adults: np.ndarray, mirrored: np.ndarray, mean, scale):
    """Coefficients and intercept of the adult-like model (adults and their mirror images against children)."""
    x = (np.vstack([children, adults, mirrored]) - mean) / scale
    y = np.r_[np.zeros(len(children)), np.ones(len(adults) + len(mirrored))]
    model = _logistic(x, y, ADULT_C)
    return model.coef_[0], float(model.intercept_[0])


def _scores(coef, intercept, features, mean, scale) -> np.ndarray:
    return ((features - mean) / scale) @ coef + intercept


def fit_population(children_inputs: np.ndarray, adult_inputs: np.ndarray | None = None,
                   adult_sites: list[str] | None = None, percentile: float = DEFAULT_POPULATION_PERCENTILE,
                   adult_sets: dict | None = None, seed: int = 0) -> tuple[dict, bytes]:
    """(``card.ood["population"]`` settings, ``population.npz`` bytes) fitted on model inputs.

    ``adult_inputs`` None or empty fits the orientation model only. ``adult_sets``
    ({name: description}) is recorded as what the adult-like model was fitted on.
    """
    if not 50.0 <= percentile < 100.0:
        raise ValueError(f"population percentile {percentile} must be at least 50 and below 100")
    rng = np.random.default_rng(seed)
    children = image_features(children_inputs)
    settings: dict[str, Any] = {"features": FEATURES_ID, "file": POPULATION_FILE, "ages_years": list(DEFAULT_AGES),
                "children": len(children)}
    adult_films = adult_inputs if adult_inputs is not None and len(adult_inputs) >= 2 else None
    have_adults = adult_films is not None
    adults = image_features(adult_films) if adult_films is not None else np.zeros((0, children.shape[1]), np.float32)
    mirrored = image_features(adult_films[:, :, ::-1]) if adult_films is not None else adults
    pick = rng.permutation(len(children_inputs))
    n_fit = min(TURN_FILMS, (3 * len(pick)) // 4)  # a quarter at least is kept to check the turns on
    fit_turn, check_turn = pick[:n_fit], pick[n_fit : n_fit + TURN_CHECK_FILMS]
    turn_x, turn_y = _turn_set(children_inputs[fit_turn])
    stacked = np.vstack([children, adults, mirrored, turn_x])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    coef, intercept = np.zeros(0), 0.0
    if have_adults:
        coef, intercept = _adult_model(children, adults, mirrored, mean, scale)
        settings["adult"] = _measure_adult(children, adults, mirrored, list(adult_sites or ["adults"] * len(adults)),
                                           coef, intercept, mean, scale, percentile, rng)
        settings["adult"]["fitted_on"] = dict(adult_sets or {}, adult_films=len(adults))
    else:
        settings["adult"] = None
        settings["note"] = "no adult films given (pneumonet guard fit --adults DIR): the adult-like check is off"
    turn = _logistic((turn_x - mean) / scale, turn_y, TURN_C)  # multinomial over the 4 turns
    model = PopulationModel(mean, scale, np.asarray(coef, dtype=np.float64), intercept, turn.coef_, turn.intercept_)
    settings["orientation"] = _measure_turns(model, children_inputs[check_turn]) if len(check_turn) else {}
    settings["orientation"]["fitted_on_children"] = int(len(fit_turn))
    return settings, model.to_bytes()


def _turn_set(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of films in each of the 4 quarter turns, mirrored too (a mirrored film is still upright)."""
    both = np.concatenate([inputs, inputs[:, :, ::-1]])
    x = np.vstack([image_features(turned(both, k)) for k in range(4)])
    return x, np.repeat(np.arange(4), len(both))


def _measure_turns(model: PopulationModel, inputs: np.ndarray) -> dict:
    """Flag rates of children not fitted on, upright and in each turn."""
    rates = {}
    for k, name in ((0, "upright"), (1, "turned_90"), (2, "turned_180"), (3, "turned_270")):
        ratio, _ = turn_ratios(model, image_features(turned(inputs, k)))
        rates[name] = round(float(np.mean(ratio >= 1.0)), 4)
    return {"checked_on_children": int(len(inputs)), "flag_rate": rates}


def _measure_adult(children, adults, mirrored, sites, coef, intercept, mean, scale, percentile, rng) -> dict:
    """Threshold (children cross-fitted) and the leave-one-site-out detection rate of adults."""
    fold = rng.permutation(len(children)) % FOLDS
    crossed = np.empty(len(children))
    for k in range(FOLDS):
        held = fold == k
        c, i = _adult_model(children[~held], adults, mirrored, mean, scale)
        crossed[held] = _scores(c, i, children[held], mean, scale)
    threshold, median = float(np.percentile(crossed, percentile)), float(np.median(crossed))
    sites = np.asarray(sites)
    names = sorted(set(sites))
    adult_scores = np.empty(len(adults))
    if len(names) > 1:
        for site in names:
            held = sites == site
            c, i = _adult_model(children, adults[~held], mirrored[~held], mean, scale)
            adult_scores[held] = _scores(c, i, adults[held], mean, scale)
        how = "leave-one-site-out: each site scored by a model fitted without it"
    else:  # one site: cross-fitted within it, which flatters (the same site's look is learned)
        afold = rng.permutation(len(adults)) % FOLDS
        for k in range(FOLDS):
            held = afold == k
            c, i = _adult_model(children, adults[~held], mirrored[~held], mean, scale)
            adult_scores[held] = _scores(c, i, adults[held], mean, scale)
        how = "5-fold cross-fitted within one site (flatters: no other site was held out)"
    flagged = adult_scores >= threshold
    per_site = {s: round(float(np.mean(flagged[sites == s])), 4) for s in names}
    groups: dict[str, list[str]] = {}
    for s in names:  # per --adults folder (the site name's first part)
        groups.setdefault(s.split("/")[0], []).append(s)
    return {
        "method": "logistic", "percentile": float(percentile), "threshold": round(threshold, 6),
        "children_median": round(median, 6),
        "threshold_from": f"{FOLDS}-fold cross-fitted scores of the fitting films (children)",
        "children_flag_rate": round(float(np.mean(crossed >= threshold)), 4),
        "adult_detection_rate": round(float(np.mean(flagged)), 4), "adult_detection_how": how,
        "adult_detection_per_set": {g: round(float(np.mean(flagged[np.isin(sites, members)])), 4)
                                    for g, members in groups.items()},
        "sites": len(names), "adult_detection_per_site": per_site,
    }
