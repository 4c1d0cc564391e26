"""The in-memory scan every part of Pneumonet works on, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


#: The fields of :class:`SourceInfo`'s JSON form, in order.
SOURCE_FIELDS = ("format", "width", "height", "photometric", "inverted", "bits_stored", "transfer_syntax",
                 "frames", "modality", "body_part", "colour_spread")


@dataclass(frozen=True)
class SourceInfo:
    """What the pixels came from: file format and how they were decoded.

    A decoded scan knows every field. A source read back from a record that kept only part
    of it (a results CSV keeps format, width and height) is *partial* (:meth:`from_dict`):
    what the record did not keep is None, "not known", never a made-up value, and
    :meth:`to_dict` writes back only what the record held.
    """

    format: str  # "PNG", "JPEG", "DICOM"
    width: int
    height: int
    photometric: str | None  # "MONOCHROME2", "MONOCHROME1", "RGB", "L", "P", "CMYK", ...; None: not known
    inverted: bool | None = False  # True when MONOCHROME1 was inverted to look like MONOCHROME2; None: not known
    bits_stored: int | None = None
    transfer_syntax: str | None = None  # DICOM transfer syntax name
    frames: int | None = 1  # None: not known
    modality: str | None = None
    body_part: str | None = None
    #: Mean spread between the colour channels (0..1) before grayscale conversion: 0 for a
    #: grayscale source, clearly above 0 for a photo. Not part of equality (a measurement).
    colour_spread: float | None = field(default=None, compare=False)
    #: The fields a partial record held (see :meth:`from_dict`); None for a whole source.
    #: Not part of equality: it says what was kept, not what the pixels came from.
    recorded: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def partial(self) -> bool:
        """True for a source read back from a record that kept only some fields."""
        return self.recorded is not None

    def to_dict(self) -> dict:
        """The JSON form: every field, or, for a partial source, the fields its record held."""
        whole = {name: getattr(self, name) for name in SOURCE_FIELDS}
        return whole if self.recorded is None else {k: v for k, v in whole.items() if k in self.recorded}

    @classmethod
    def from_dict(cls, data: dict) -> SourceInfo:
        """The source of a :meth:`to_dict` record, whole or partial.

        ``format``, ``width`` and ``height`` are required (ValueError without them: a source
        without a size says nothing). A field the record lacks is None ("not known"), not
        the default a decoder would give (a DICOM read back from a CSV may have been
        MONOCHROME1, inverted, or many frames); unknown keys are ignored.
        """
        missing = [k for k in ("format", "width", "height") if data.get(k) in (None, "")]
        if missing:
            raise ValueError(f"a source needs {', '.join(missing)}")
        known: dict[str, Any] = {k: data[k] for k in SOURCE_FIELDS if k in data}
        known["width"], known["height"] = int(known["width"]), int(known["height"])
        recorded = None if len(known) == len(SOURCE_FIELDS) else tuple(k for k in SOURCE_FIELDS if k in known)
        unknown: dict[str, Any] = dict.fromkeys(k for k in SOURCE_FIELDS if k not in known)
        return cls(**known, **unknown, recorded=recorded)


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
