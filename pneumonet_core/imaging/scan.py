"""The in-memory scan every part of Pneumonet works on, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Metadata keys shown to users, in display order. Values are strings or None.
METADATA_KEYS = (
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "patient_age",
    "patient_sex",
    "study_date",
    "modality",
    "body_part",
    "view_position",
    "manufacturer",
    "accession_number",
    "institution_name",
    "institution_address",
    "referring_physician",
    "other_patient_ids",
    "other_patient_names",
    "patient_address",
    "patient_telephone",
    "study_id",
    "operator_name",
    "performing_physician",
    "station_name",
    "device_serial_number",
)

#: How each metadata key is titled on screen and in reports.
METADATA_TITLES = {
    "patient_name": "Patient name",
    "patient_id": "Patient ID",
    "patient_birth_date": "Birth date",
    "patient_age": "Age",
    "patient_sex": "Sex",
    "study_date": "Study date",
    "modality": "Modality",
    "body_part": "Body part",
    "view_position": "View",
    "manufacturer": "Manufacturer",
    "accession_number": "Accession number",
    "institution_name": "Institution",
    "institution_address": "Institution address",
    "referring_physician": "Referring physician",
    "other_patient_ids": "Other patient IDs",
    "other_patient_names": "Other patient names",
    "patient_address": "Patient address",
    "patient_telephone": "Patient telephone",
    "study_id": "Study ID",
    "operator_name": "Operator",
    "performing_physician": "Performing physician",
    "station_name": "Station name",
    "device_serial_number": "Device serial number",
}

#: Metadata keys that identify a patient (HIPAA Safe Harbor: names, numbers, addresses,
#: dates, and the people and places around them); hidden on screen on request and left
#: out of de-identified exports. Ages over 89 and dates other than the year are
#: generalised there as well (see :mod:`pneumonet_core.reports.deidentify`).
IDENTIFYING_KEYS = (
    "patient_name", "patient_id", "patient_birth_date", "accession_number", "institution_name",
    "institution_address", "referring_physician", "other_patient_ids", "other_patient_names", "patient_address",
    "patient_telephone", "study_id", "operator_name", "performing_physician", "station_name",
    "device_serial_number",
)
#: Identifying keys holding people's names (matched in file names in every usual form).
NAME_KEYS = ("patient_name", "other_patient_names", "referring_physician", "operator_name", "performing_physician")


@dataclass(frozen=True)
class SourceInfo:
    """What the pixels came from: file format and how they were decoded."""

    format: str  # "PNG", "JPEG", "DICOM"
    width: int
    height: int
    photometric: str  # "MONOCHROME2", "MONOCHROME1", "RGB", "L", "P", "CMYK", ...
    inverted: bool = False  # True when MONOCHROME1 was inverted to look like MONOCHROME2
    bits_stored: int | None = None
    transfer_syntax: str | None = None  # DICOM transfer syntax name
    frames: int = 1
    modality: str | None = None
    body_part: str | None = None
    #: Mean spread between the colour channels (0..1) before grayscale conversion: 0 for a
    #: grayscale source, clearly above 0 for a photo. Not part of equality (a measurement).
    colour_spread: float | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "photometric": self.photometric,
            "inverted": self.inverted,
            "bits_stored": self.bits_stored,
            "transfer_syntax": self.transfer_syntax,
            "frames": self.frames,
            "modality": self.modality,
            "body_part": self.body_part,
            "colour_spread": self.colour_spread,
        }


@dataclass(frozen=True)
class Scan:
    """A decoded scan at full resolution.

    ``pixels`` is float32, shape (height, width), 0 = black and 1 = white in the
    MONOCHROME2 sense, with the modality and VOI LUT (or window) already applied: it is
    what the model sees before resizing. ``raw`` keeps the modality values (after
    rescale slope/intercept, before windowing) for window/level in the viewer, and
    ``default_window`` is the (centre, width) in those units that produced ``pixels``.
    For PNG/JPEG, ``raw`` is None and the window is the full 0..1 range.
    """

    path: Path
    pixels: np.ndarray
    source: SourceInfo
    metadata: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    raw: np.ndarray | None = None
    default_window: tuple[float, float] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape)
