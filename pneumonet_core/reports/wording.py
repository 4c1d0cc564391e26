"""How header values read for people: "003Y" is "3 years", "F" is "female".

DICOM stores ages and sexes as codes; a clinician reading a report or the viewer should
see words. One function per value kind, and :func:`readable` for a metadata key.
"""

from __future__ import annotations

from pneumonet_core.imaging.clinical_warnings import parse_dicom_age

_SEXES = {"F": "female", "M": "male", "O": "other"}


def age_text(value: str | None) -> str | None:
    """A DICOM Age String in words ("003Y" -> "3 years", "018M" -> "18 months"); others unchanged."""
    parsed = parse_dicom_age(value) if value else None
    return parsed[1] if parsed is not None else value


def sex_text(value: str | None) -> str | None:
    """A DICOM Patient's Sex code in words ("F" -> "female"); others unchanged."""
    if not value:
        return value
    return _SEXES.get(str(value).strip().upper(), value)


def readable(key: str, value):
    """The metadata value ``key`` as a person should read it."""
    if key == "patient_age":
        return age_text(value)
    if key == "patient_sex":
        return sex_text(value)
    return value
