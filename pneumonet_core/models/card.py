"""The model card: what a model is, how it was trained, and how well it does on patients it never saw."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

#: A subtype model's classes: its one output is the probability of the second (viral).
SUBTYPE_CLASSES = ("BACTERIA", "VIRUS")


@dataclass
class ModelCard:
    """Everything a user or an auditor needs to know about one model package.

    ``metrics`` are measured on held-out patients never used for training, for choosing
    the epoch, or for choosing ``threshold``; ``validation`` holds the numbers on the
    validation patients that did choose them.
    """

    name: str = "unnamed"
    version: str = "1"
    approach: str = "cnn"
    backbone: str = "custom-cnn"
    spec: dict = field(default_factory=dict)
    input: dict = field(default_factory=dict)
    class_names: list = field(default_factory=lambda: ["NORMAL", "PNEUMONIA"])
    threshold: float = 0.5
    threshold_rule: str = "default 0.5 (no validation data)"
    gradcam_layer: str = ""
    metrics: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    #: Figures on patients outside the training split (``pneumonet calibrate`` / evaluate).
    external: dict = field(default_factory=dict)
    #: Post-hoc probability calibration, applied in the one inference path (empty: none).
    calibration: dict = field(default_factory=dict)
    #: [low, high] on the calibrated scale: a probability inside is reported as undetermined
    #: (the bacterial/viral model, :mod:`pneumonet_core.inference.subtype`); empty: none.
    uncertain_band: list = field(default_factory=list)
    #: The out-of-distribution guard's settings (its reference data is an extra file).
    ood: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    weights_init: str = ""
    compression: str = "float32"
    code_version: str = ""
    created: str = ""
    hash: str = ""
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_jsonable)

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def gets_subtype_opinion(self) -> bool:
        """True for a NORMAL/PNEUMONIA model: the bacterial/viral opinion follows its PNEUMONIA decisions."""
        return list(self.class_names) == ["NORMAL", "PNEUMONIA"]

    @property
    def is_subtype(self) -> bool:
        """True for a bacterial/viral model: it runs after a pneumonia model, never as one."""
        return list(self.class_names) == list(SUBTYPE_CLASSES)

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def _external_lines(self) -> list[str]:
        e = self.external
        if not e:
            return ["External:     not measured on patients outside the training split"]
        lines = [f"External:     {e.get('data_set')}: {e.get('images')} films of {e.get('patients')} patients "
                 f"outside the training split"]
        # Cross-fitted first: the stored threshold was chosen on these very films.
        from pneumonet_core.models.figures import calibrated_on

        stored = ("at the stored threshold (chosen on these films)" if calibrated_on(self, e.get("file_list_sha256"))
                  else "at the stored threshold")
        for key, title in (("after_cross_fitted", "cross-fitted by patient"), ("after", stored)):
            m = e.get(key) or {}
            if m:
                lines.append(f"  {title:24s}  ROC-AUC={_f(m.get('roc_auc'))}  accuracy={_f(m.get('accuracy'))}  "
                             f"sensitivity={_f(m.get('sensitivity'))}  specificity={_f(m.get('specificity'))}  "
                             f"ECE={_f(m.get('ece'))}")
        if self.is_subtype:  # viral is the positive class; the published figures beside ours
            from pneumonet_core.models.figures import SUBTYPE_ANCHOR as a

            lines.append(f"  {'anchor (Kermany 2018)':24s}  ROC-AUC={a['roc_auc']:.3f}  accuracy={a['accuracy']:.3f}  "
                         f"sensitivity={a['sensitivity']:.3f}  specificity={a['specificity']:.3f}  (viral positive)")
        return lines

    def summary_lines(self) -> list[str]:
        """A human-readable card, as ``pneumonet info`` prints it."""
        lines = [
            f"Model:        {self.name} (version {self.version})",
            f"Approach:     {self.approach}   Backbone: {self.backbone}",
            f"Weights init: {self.weights_init or 'n/a'}",
            f"Classes:      {', '.join(self.class_names)}",
            f"Input:        {_size_text(self.input.get('size'))}, {self.input.get('channels', 1)} channel, "
            f"preprocessing {self.input.get('preprocessing')}",
            f"Threshold:    {self.threshold:.4f} ({self.threshold_rule})",
        ]
        if self.uncertain_band:
            lines.append(f"Undetermined: {self.uncertain_band[0]:.2f} to {self.uncertain_band[1]:.2f} "
                         "(calibrated probability; reported as undetermined)")
        # Independent patients first; the held-out split of the training data second, labelled
        # as such (see pneumonet_core.models.figures).
        lines += self._external_lines()
        m = self.metrics
        if m:
            lines.append(
                f"Held-out:     n={m.get('n')} patients={m.get('patients', 'n/a')}  ROC-AUC={_f(m.get('roc_auc'))}  "
                f"accuracy={_f(m.get('accuracy'))}  sensitivity={_f(m.get('sensitivity'))}  "
                f"specificity={_f(m.get('specificity'))}  (split of the training data set, same hospital; "
                "not independent)"
            )
        else:
            lines.append("Held-out:     no held-out metrics recorded")
        lines.append(f"Calibration:  {calibration_text(self.calibration)}")
        lines.append(f"OOD guard:    {ood_text(self.ood)}")
        if self.data:
            lines.append(f"Data:         {_data_text(self.data)}")
        if self.training:
            lines += _training_lines(self.training)
        lines += [
            f"Compression:  {self.compression}",
            f"Code version: {self.code_version}   Created: {self.created}",
            f"Hash:         sha256:{self.hash}",
        ]
        lines += [f"Note:         {note}" for note in self.notes]
        return lines


def calibration_text(calibration: dict) -> str:
    """One phrase for a card's calibration: the method, its parameters and where it was fitted."""
    method = (calibration or {}).get("method")
    if not method:
        return "none (probabilities as the network gives them)"
    params = {"temperature": lambda c: f"T={c['temperature']:.3g}",
              "platt": lambda c: f"slope {c['slope']:.3g}, intercept {c['intercept']:.3g}",
              "isotonic": lambda c: f"{len(c['x'])} steps"}[method](calibration)
    site = (calibration.get("fitted_on") or {}).get("data_set")
    return f"{method} ({params})" + (f", fitted on {site}" if site else "")
def strip_folders(text: str) -> str:
    """``text`` with every path reduced to its last part: cards travel, their authors' folders need not."""
    import re

    return re.sub(r"(?:[A-Za-z]:)?(?:[^\s/\\'\"=]*[/\\])+([^\s/\\'\"]*)", lambda m: m.group(1) or ".", str(text))


def _size_text(size) -> str:
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return f"{size[0]} x {size[1]} pixels"
    return str(size)


def _data_text(data: dict) -> str:
    summary = data.get("summary", data)
    parts = []
    for split in ("train", "validation", "test"):
        block = summary.get(split) if isinstance(summary, dict) else None
        if isinstance(block, dict) and "images" in block:
            parts.append(f"{split} {block['images']:,} images / {block.get('patients', '?'):,} patients"
                         if isinstance(block.get("patients"), int) else f"{split} {block['images']:,} images")
    if not parts:
        return strip_folders(json.dumps(summary, default=_jsonable))[:200]
    seed = summary.get("seed")
    return "; ".join(parts) + (f" (split seed {seed})" if seed is not None else "")


def _training_lines(training: dict) -> list[str]:
    bits = []
    if "epochs" in training:
        bits.append(f"up to {training['epochs']} epochs")
    if "best_epoch" in training:
        bits.append(f"best epoch {training['best_epoch']}")
    if "duration_s" in training:
        bits.append(f"{float(training['duration_s']):.0f} s")
    where = " on ".join(str(training[k]) for k in ("backend", "device") if training.get(k))
    if where:
        bits.append(where)
    if "seed" in training:
        bits.append(f"seed {training['seed']}")
    lines = [f"Training:     {', '.join(bits)}"] if bits else []
    if training.get("command"):
        lines.append(f"Command:      {strip_folders(training['command'])}")
    return lines


def describe_guard(settings: dict) -> str:
    """What guards a package, in one phrase (``card.ood`` as stored; :mod:`pneumonet_core.ood` writes it)."""
    return _describe_core(settings) + _describe_population(settings.get("population") or {})


def _ages_text(ages) -> str:
    return f"{ages[0]:g} to {ages[1]:g} years"


def _describe_population(block: dict) -> str:
    # The card states 1 to 5 years when the block records no ages (the bundled models' population).
    ages = _ages_text(tuple(block.get("ages_years") or (1, 5)))
    if not block:
        return f" + header age ({ages})"
    adult = block.get("adult")
    if not adult:
        return f" + orientation + header age ({ages}); no adult-like check"
    return (f" + adult-like film ({adult.get('adult_detection_rate', 0):.0%} of "
            f"{adult.get('fitted_on', {}).get('adult_films')} adult films flagged, {adult.get('sites')} sites left "
            f"out in turn) + orientation + header age ({ages})")


def population_rates(settings: dict) -> str | None:
    """The population check's measured rates in one sentence (``card.ood`` as stored); None without one."""
    block = settings.get("population") or {}
    adult, turns = block.get("adult"), (block.get("orientation") or {}).get("flag_rate") or {}
    parts = []
    if adult:
        parts.append(f"adult films flagged: {adult['adult_detection_rate']:.1%} of {adult['fitted_on']['adult_films']} "
                     f"({adult['adult_detection_how']}, {adult['sites']} sites); children flagged: "
                     f"{adult['children_flag_rate']:.1%} (cross-fitted)")
    if turns:
        parts.append(f"films turned 90/180/270 degrees flagged: {turns.get('turned_90', 0):.0%}/"
                     f"{turns.get('turned_180', 0):.0%}/{turns.get('turned_270', 0):.0%}, upright "
                     f"{turns.get('upright', 0):.1%} (children not fitted on)")
    return "Population check: " + "; ".join(parts) + "." if parts else None


def _describe_core(settings: dict) -> str:
    if settings.get("method"):  # a feature reference (the guard refuses a method it does not know)
        fitted = settings.get("fitted_on") or {}
        where = f" fitted on {fitted.get('images')} films of {fitted.get('data_set')}" if fitted else ""
        return (f"feature distance (layer {settings.get('layer')}, {settings.get('components')} components,{where}; "
                f"flagged above the {settings.get('percentile')}th percentile) + image statistics + DICOM tags")
    if settings.get("image_statistics"):
        return "image statistics (fitted) + DICOM tags; no feature reference"
    return "image statistics (built-in ranges) + DICOM tags only; no feature reference in this model"


def ood_text(ood: dict) -> str:
    """One phrase for a card's out-of-distribution guard, with its flag rate on the fitting films."""
    text = describe_guard(ood or {})
    rate = (ood or {}).get("fit_flag_rate")
    return text + (f"; flags {rate:.1%} of its fitting films" if rate is not None else "")


def _f(value) -> str:
    return "n/a" if value is None else f"{float(value):.4f}"


def _jsonable(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)
