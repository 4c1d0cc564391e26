"""Warnings that a scan lies outside what the model was trained on.

The model only saw frontal chest radiographs of children aged one to five, resized to
224 x 224 (see the data README). A scan that differs from that still gets a result, but
the user must be told why the result may not apply: these rules turn a scan's metadata
and size into short sentences. Rule constants come first so they can be reviewed at a
glance.
"""

from __future__ import annotations

import re
from datetime import date

from pneumonet_core.preprocessing import INPUT_SIZE

#: DICOM Modality values of projection radiographs (computed, digital, radiographic).
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "RG"})

#: BodyPartExamined values that mean the chest (compared upper-case, spaces as "_").
CHEST_BODY_PARTS = frozenset({"CHEST", "THORAX", "TORAX", "LUNG", "LUNGS", "CHEST_AP", "CHEST_PA"})

#: ViewPosition values of a lateral projection; the training images are frontal (AP).
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL"})

#: Ages of the training population in whole years: from 1 year up to 5 years and 364 days.
MIN_AGE_YEARS = 1
MAX_AGE_YEARS = 5

#: An image narrower or lower than the model input (224 px) has to be enlarged for it.
MIN_SIDE_PX = min(INPUT_SIZE)

#: Mean spread between the colour channels (0..1) above which an image really is in
#: colour; grayscale X-rays saved as RGB have a spread of 0.
COLOUR_SPREAD_LIMIT = 0.02

_AGE_UNITS = {"D": ("day", 1 / 365.25), "W": ("week", 7 / 365.25), "M": ("month", 1 / 12), "Y": ("year", 1.0)}
_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)


def clinical_warnings(metadata: dict, width: int, height: int) -> list[str]:
    """Return the warnings for a scan with these metadata (METADATA_KEYS) and size."""
    warnings = []
    modality = _norm(metadata.get("modality"))
    if modality and modality not in RADIOGRAPH_MODALITIES:
        allowed = ", ".join(sorted(RADIOGRAPH_MODALITIES))
        warnings.append(f"Modality {modality} is not a radiograph ({allowed}): the model knows chest X-rays only")
    body_part = _norm(metadata.get("body_part"))
    if body_part and body_part not in CHEST_BODY_PARTS:
        warnings.append(f"Body part is {metadata['body_part'].strip()}, not the chest")
    view = _norm(metadata.get("view_position"))
    if view in LATERAL_VIEWS:
        warnings.append(f"Lateral view ({view}): the model was trained on frontal (AP) chest X-rays")
    age_warning = _age_warning(metadata)
    if age_warning:
        warnings.append(age_warning)
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        warnings.append(
            f"Image is smaller than the model input ({width} x {height} < {INPUT_SIZE[1]} x {INPUT_SIZE[0]})"
        )
    return warnings


def colour_warning(channel_spread: float, photometric: str) -> str | None:
    """Return a warning when an image converted to grayscale really was in colour."""
    if channel_spread > COLOUR_SPREAD_LIMIT:
        return f"Colour image ({photometric}) converted to grayscale: X-rays are grayscale"
    return None


def parse_dicom_age(value: str | None) -> tuple[float, str] | None:
    """Parse a DICOM Age String such as "004Y", "018M", "030D" or "010W".

    Returns (age in years, the age in words such as "18 months"), or None when the
    value is not an age string.
    """
    match = _AGE_RE.match(value or "")
    if not match:
        return None
    count = int(match.group(1))
    unit, years_per_unit = _AGE_UNITS[match.group(2).upper()]
    return count * years_per_unit, f"{count} {unit}{'' if count == 1 else 's'}"


def age_from_dates(birth_date: str | None, study_date: str | None) -> tuple[float, str] | None:
    """Return (age in years, age in words) at the study from two DICOM or ISO dates."""
    birth, study = _parse_date(birth_date), _parse_date(study_date)
    if birth is None or study is None or study < birth:
        return None
    months = (study.year - birth.year) * 12 + (study.month - birth.month) - (study.day < birth.day)
    if months >= 24:
        years = months // 12
        words = f"{years} year{'' if years == 1 else 's'}"
    elif months >= 1:
        words = f"{months} month{'' if months == 1 else 's'}"
    else:
        days = (study - birth).days
        words = f"{days} day{'' if days == 1 else 's'}"
    return months / 12 if months >= 1 else (study - birth).days / 365.25, words


def is_training_age(years: float) -> bool:
    """True when an age in years is within the training population (1 to 5 years)."""
    return MIN_AGE_YEARS <= years < MAX_AGE_YEARS + 1


#: Where an age came from when the header has no Patient's Age.
AGE_FROM_DATES = "from birth and study dates"


def patient_age(metadata: dict) -> tuple[float, str, str] | None:
    """The patient's age at the study as (years, words, source), by one rule for every screen:
    the header's Patient's Age, else Patient's Birth Date to Study Date (source
    :data:`AGE_FROM_DATES`). None when neither gives an age (or the recorded one is unreadable)."""
    recorded = (metadata.get("patient_age") or "").strip()
    if recorded:
        parsed = parse_dicom_age(recorded)
        return None if parsed is None else (parsed[0], parsed[1], "")
    parsed = age_from_dates(metadata.get("patient_birth_date"), metadata.get("study_date"))
    return None if parsed is None else (parsed[0], parsed[1], AGE_FROM_DATES)


def with_age(metadata: dict) -> dict:
    """``metadata`` with Patient's Age filled in (a DICOM age string, e.g. "064Y") from the dates
    when the header has none, so a panel, a corner and a warning state the same age."""
    out = dict(metadata or {})
    age = None if (out.get("patient_age") or "").strip() else patient_age(out)
    if age is not None:
        count, unit = age[1].split()[:2]
        out["patient_age"] = f"{int(count):03d}{unit[0].upper()}"
    return out


def _age_warning(metadata: dict) -> str | None:
    population = f"children {MIN_AGE_YEARS} to {MAX_AGE_YEARS} years"
    recorded = (metadata.get("patient_age") or "").strip()
    age = patient_age(metadata)
    if age is None:
        return f"Patient age '{recorded}' could not be read: the model was trained on {population}" if recorded \
            else None
    years, words, source = age
    if is_training_age(years):
        return None
    return f"Patient age {words}{f' ({source})' if source else ''} is outside the training population ({population})"


#: Warning kinds from the most to the least important for a reader (first words of each):
#: the film is outside what the model knows, then how it was decoded.
IMPORTANCE = ("Modality ", "Body part ", "Lateral view", "Patient age", "Colour image", "Image is smaller")


def by_importance(warnings) -> list[str]:
    """The warnings, most important first (see :data:`IMPORTANCE`); others keep their order after."""
    def rank(text: str) -> int:
        return next((i for i, start in enumerate(IMPORTANCE) if text.startswith(start)), len(IMPORTANCE))

    return sorted(warnings, key=rank)


def _parse_date(value: str | None) -> date | None:
    digits = (value or "").strip().replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _norm(value: str | None) -> str:
    return "_".join((value or "").upper().split())
