"""The DICOM header fields Pneumonet reads: what the clinician sees, what the warnings use,
and every identifier that de-identification must be able to remove.

Values are strings or None. Dates become ISO ``YYYY-MM-DD`` when valid; person names
become "Family, Given Middle", followed by their ideographic and phonetic forms when the
file has them ("Yamada, Tarou = 山田, 太郎"), so a name in any script can be found and
removed again.
"""

from __future__ import annotations

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from pneumonet_core.imaging.scan import METADATA_KEYS

#: DICOM keyword of each metadata key.
METADATA_KEYWORDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "patient_age": "PatientAge",
    "patient_sex": "PatientSex",
    "study_date": "StudyDate",
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "view_position": "ViewPosition",
    "manufacturer": "Manufacturer",
    "accession_number": "AccessionNumber",
    "institution_name": "InstitutionName",
    "institution_address": "InstitutionAddress",
    "referring_physician": "ReferringPhysicianName",
    "other_patient_ids": "OtherPatientIDs",
    "other_patient_names": "OtherPatientNames",
    "patient_address": "PatientAddress",
    "patient_telephone": "PatientTelephoneNumbers",
    "study_id": "StudyID",
    "operator_name": "OperatorsName",
    "performing_physician": "PerformingPhysicianName",
    "station_name": "StationName",
    "device_serial_number": "DeviceSerialNumber",
}


def read_metadata(ds: Dataset) -> dict:
    """Return METADATA_KEYS as strings or None; dates as ISO YYYY-MM-DD when valid."""
    metadata = {}
    for key in METADATA_KEYS:
        keyword = METADATA_KEYWORDS.get(key)
        text = _text(ds, keyword) if keyword else None
        if text and key.endswith("_date"):
            text = _iso_date(text)
        metadata[key] = text
    return metadata


def _text(ds: Dataset, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - an undecodable value is shown as missing, not as a failed load
        return None
    if value is None:
        return None
    try:
        if isinstance(value, MultiValue):
            items = [_person_name(v) if isinstance(v, pydicom.valuerep.PersonName) else str(v) for v in value]
            text = "\\".join(item for item in items if item)
        elif isinstance(value, pydicom.valuerep.PersonName):
            text = _person_name(value)
        else:
            text = str(value)
    except Exception:  # noqa: BLE001 - a value pydicom cannot render is treated as missing
        return None
    text = text.strip()
    return text or None


def _person_name(name: pydicom.valuerep.PersonName) -> str:
    """"Family, Given Middle" for each representation of a DICOM PN (components split by ^, groups by =)."""
    shown = []
    for group in str(name).split("="):
        parts = [part.strip() for part in group.split("^")]
        family, given = parts[0], " ".join(part for part in parts[1:3] if part)
        text = f"{family}, {given}" if family and given else family or given
        if text:
            shown.append(text)
    return " = ".join(shown)


def _iso_date(text: str) -> str:
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text
