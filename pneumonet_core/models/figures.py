"""Which figures present a model: those on independent patients first, the held-out split second.

Held-out test patients come from the training data set (the same hospital, machines and
habits, only kept out of training), so their figures flatter a model (ROC-AUC 0.999 for
the bundled ResNet152V2). Figures on patients outside the training split
(``card.external``, written by ``pneumonet calibrate``) are the better guide to new
patients. When the model was calibrated on those very films (the card's
``calibration.fitted_on.file_list_sha256`` equals the external films' listing), the
figures at the stored threshold were chosen on them; the honest ones are then the
*cross-fitted* figures (calibration and threshold fitted on other patients than those
measured). The PDF reports, ``pneumonet models`` and ``pneumonet info``, the model card
and the wizard's comparison all take their order and titles from here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The published bacterial-vs-viral figures on the official test split, shown beside a subtype model's.
SUBTYPE_ANCHOR = {"source": "Kermany et al., Cell 2018 (bacterial vs viral, official test split)",
                  "roc_auc": 0.940, "accuracy": 0.907, "sensitivity": 0.886, "specificity": 0.909}
#: Title of the held-out figures wherever they are shown: second, and never called independent.
HELD_OUT_TITLE = "Held-out split of the training data set (same hospital; not independent)"


@dataclass(frozen=True)
class Figures:
    """One block of figures with what people are told it is."""

    kind: str  # "cross-fitted", "external" or "held-out"
    title: str
    figures: dict

    @property
    def roc_auc(self) -> float | None:
        value = self.figures.get("roc_auc")
        return None if value is None else float(value)


def calibrated_on(card, file_list_sha256: str | None) -> bool:
    """True when ``card``'s calibration (and threshold) was fitted on the films whose listing
    hash is ``file_list_sha256`` (as :func:`~pneumonet_core.evaluation.site_calibration.site_record`
    computes it)."""
    fitted = ((getattr(card, "calibration", None) or {}).get("fitted_on") or {}).get("file_list_sha256")
    return bool(fitted) and fitted == file_list_sha256


def _count(block: dict, external: dict) -> str:
    n = block.get("n") or external.get("images")
    patients = external.get("patients")
    return f"{n} films" + (f", {patients} patients" if patients else "")


def independent(card) -> Figures | None:
    """The figures on patients outside the training split, or None when the card has none."""
    e = getattr(card, "external", None) or {}
    where = e.get("data_set") or "external films"
    if not e:
        return None
    fitted_here = calibrated_on(card, e.get("file_list_sha256"))
    honest = e.get("after_cross_fitted") or {}
    if honest.get("roc_auc") is not None:
        return Figures("cross-fitted", f"Independent patients ({where}, {_count(honest, e)}), cross-fitted: "
                       "calibration and threshold fitted on other patients than those measured", honest)
    after = e.get("after") or {}
    if after.get("roc_auc") is not None and not fitted_here:
        return Figures("external", f"Independent patients ({where}, {_count(after, e)})", after)
    before = e.get("before") or {}
    if before.get("roc_auc") is not None:  # before calibration: nothing was fitted on these films yet
        return Figures("external", f"Independent patients ({where}, {_count(before, e)}), before calibration",
                       before)
    return None


def held_out(card) -> Figures | None:
    """The figures on the held-out test patients of the training data set, or None."""
    m = getattr(card, "metrics", None) or {}
    if not m.get("n") or m.get("roc_auc") is None:
        return None
    patients = f", {m['patients']} patients" if m.get("patients") else ""
    return Figures("held-out", f"{HELD_OUT_TITLE} ({m['n']} films{patients})", m)


def ordered(card) -> list[Figures]:
    """Independent patients first, then the held-out split: the order every presentation keeps."""
    return [f for f in (independent(card), held_out(card)) if f is not None]


def ranking_value(card) -> float | None:
    """What models are ranked by: ROC-AUC on independent patients (None: not measured there)."""
    found = independent(card)
    return found.roc_auc if found is not None else None


def figures_text(block: dict) -> str:
    """ROC-AUC, sensitivity and specificity of a block, for one line."""
    def f(key):
        value = block.get(key)
        return "n/a" if value is None else f"{float(value):.3f}"

    return f"ROC-AUC {f('roc_auc')} · sensitivity {f('sensitivity')} · specificity {f('specificity')}"


def block_of(found: Figures | None) -> dict | None:
    """A JSON block: ``{"kind", "title", "roc_auc", "sensitivity", "specificity", "n"}`` or None."""
    if found is None:
        return None
    keys = ("roc_auc", "sensitivity", "specificity", "n")
    return {"kind": found.kind, "title": found.title, **{k: found.figures.get(k) for k in keys}}


def ranked(models: list) -> list:
    """Installed models (anything with a ``card``), best ROC-AUC on independent patients first;
    those never measured there last, in their given order."""
    def key(model):
        value = ranking_value(model.card)
        return (value is None, -(value or 0.0))

    return sorted(models, key=key)


def list_text(card) -> str:
    """``independent AUC=0.9545 (cross-fitted)  held-out AUC=0.9994``, for one line of a list."""
    found, held = independent(card), held_out(card)
    first = "independent AUC=n/a" if found is None else f"independent AUC={found.roc_auc:.4f} ({found.kind})"
    second = "held-out AUC=n/a" if held is None else f"held-out AUC={held.roc_auc:.4f}"
    return f"{first}  {second}"
