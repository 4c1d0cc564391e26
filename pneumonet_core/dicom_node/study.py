"""The patient and study an answer belongs to: copied from the source DICOM, or a new study.

Answers must carry the source's Patient and General Study modules. Values are copied
attribute by attribute and checked against their value representation: an invalid value
of the source (a malformed date, an unknown sex code) is left empty rather than written,
so every answer stays valid whatever the modality sent. Text is written as UTF-8
(ISO_IR 192) when it is not plain ASCII, so any source character set survives.
"""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pydicom.valuerep import validate_value

from pneumonet_core import __version__

# Names are copied from the source as they are; highdicom's advice on their form is not ours to act on.
warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name", category=UserWarning)

#: Manufacturer of every object Pneumonet writes; also how its own answers are recognised.
MANUFACTURER = "Pneumonet"
#: Series numbers of the answers within the source study (high, out of the modality's way).
SC_SERIES_NUMBER = 9801
SR_SERIES_NUMBER = 9802
NOT_FOR_DIAGNOSIS = "NOT FOR PRIMARY DIAGNOSIS"

#: Patient and study attributes copied into the answers: (keyword, type); type 2 ones are
#: always present, empty when the source lacks them or holds an invalid value.
COPIED_ATTRIBUTES = (
    ("PatientName", 2), ("PatientID", 2), ("IssuerOfPatientID", 3), ("PatientBirthDate", 2),
    ("PatientSex", 2), ("PatientAge", 3), ("PatientSize", 3), ("PatientWeight", 3),
    ("StudyDate", 2), ("StudyTime", 2), ("ReferringPhysicianName", 2), ("StudyID", 2),
    ("AccessionNumber", 2), ("StudyDescription", 3),
)
_ENUMERATED = {"PatientSex": {"M", "F", "O"}}


class AnswerError(Exception):
    """An answer could not be built for this object; the message is one line."""


def read_header(path: str | Path) -> Dataset:
    """The DICOM header of ``path`` (no pixel data)."""
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def _valid(keyword: str, element) -> bool:
    value = element.value
    if keyword in _ENUMERATED and str(value) not in _ENUMERATED[keyword]:
        return False
    try:
        for item in value if element.VM > 1 else [value]:
            validate_value(element.VR, item, pydicom.config.RAISE)
    except Exception:  # noqa: BLE001 - any invalid value is left out, not written
        return False
    return True


def _needs_utf8(ds: Dataset) -> bool:
    return any(isinstance(e.value, str) and not e.value.isascii() or
               e.VR == "PN" and not str(e.value).isascii() for e in ds)


def study_reference(header: Dataset) -> Dataset:
    """A dataset holding the source's study UID and checked patient/study attributes."""
    uid = copied_value(header, "StudyInstanceUID")
    if not uid:
        raise AnswerError("the source has no valid Study Instance UID")
    ref = Dataset()
    ref.StudyInstanceUID = uid
    for keyword, kind in COPIED_ATTRIBUTES:
        if copied_value(header, keyword) is not None:
            ref[keyword] = header[keyword]
        elif kind == 2:
            setattr(ref, keyword, "")
    if _needs_utf8(ref):
        ref.SpecificCharacterSet = "ISO_IR 192"
    return ref


def copied_value(header: Dataset | None, keyword: str):
    """The source's value of ``keyword`` when present and valid, else None."""
    if header is None or keyword not in header:
        return None
    try:
        element = header[keyword]
        return element.value if element.value not in (None, "") and _valid(keyword, element) else None
    except Exception:  # noqa: BLE001 - an undecodable value counts as invalid
        return None


def evidence_reference(header: Dataset, reference: Dataset) -> Dataset:
    """The source as SR evidence: its UIDs, modality and equipment, with the checked study."""
    ds = Dataset()
    copy_reference(reference, ds)
    for keyword in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality", "Manufacturer",
                    "ManufacturerModelName", "DeviceSerialNumber", "SoftwareVersions", "InstitutionName"):
        value = copied_value(header, keyword)
        if value is not None:
            setattr(ds, keyword, value)
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID") if k not in ds]
    if missing:
        raise AnswerError(f"the source has no valid {' or '.join(missing)}")
    return ds


def new_study_reference(now: datetime.datetime | None = None) -> Dataset:
    """A new study for an input that is not DICOM (PNG, JPEG): fresh UID, no patient."""
    now = now or datetime.datetime.now()
    ref = Dataset()
    ref.StudyInstanceUID = generate_uid()
    for keyword, kind in COPIED_ATTRIBUTES:
        if kind == 2:
            setattr(ref, keyword, "")
    ref.StudyDate = now.strftime("%Y%m%d")
    ref.StudyTime = now.strftime("%H%M%S")
    ref.StudyDescription = "Pneumonet classification of an image file"
    return ref


def copy_reference(ref: Dataset, target: Dataset) -> None:
    """Put the reference's patient and study attributes into ``target``."""
    for element in ref:
        target[element.tag] = element


def equipment(card) -> dict:
    """Keyword arguments of highdicom's SOP classes naming Pneumonet and the model."""
    return {
        "manufacturer": MANUFACTURER,
        "manufacturer_model_name": (card.name or "model")[:64],
        "software_versions": [f"pneumonet {__version__}", f"model {card.version}"[:64]],
    }


def skip_reason(header: Dataset) -> str | None:
    """Why an object is not to be classified (Pneumonet's own answer, not an image), or None."""
    from pydicom.uid import UID

    if is_pneumonet_answer(header):
        return "Pneumonet's own answer; not classified"
    sop_class = UID(str(header.get("SOPClassUID") or ""))
    if sop_class.name != str(sop_class) and "Image" not in sop_class.name:  # a known class that is no image
        return f"not an image (SOP class: {sop_class.name})"
    return None


def is_pneumonet_answer(ds: Dataset) -> bool:
    """True for an object Pneumonet wrote (so a PACS routing it back is not classified)."""
    if str(ds.get("Manufacturer") or "") != MANUFACTURER:
        return False
    return str(ds.get("Modality") or "") == "SR" or "DERIVED" in [str(v) for v in ds.get("ImageType") or []]
