"""Query/retrieve from a PACS: C-FIND the matching studies, then C-GET each into a folder.

C-GET needs no configuration on the PACS beyond knowing our AE title (C-MOVE would also
need our host and port there). Retrieved objects are written atomically as
``<out>/<Study Instance UID>/<SOP Instance UID>.dcm``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from pneumonet_core.atomic import write_bytes_atomic
from pneumonet_core.dicom_node.journal import object_key
from pneumonet_core.dicom_node.network import DicomNetworkError, Peer, application_entity, associate, status_text

#: Image classes retrieved: radiographs and what a PACS may hold them as.
RETRIEVED_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray, for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray, for processing
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word Secondary Capture
    "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color Secondary Capture
    "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic (some systems store chest films so)
    "1.2.840.10008.5.1.4.1.1.2",  # CT (scout views)
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic (scanned films)
)
#: Non-image classes a study may hold (Pneumonet's own SR answers among them): retrieved, not classified.
RETRIEVED_DOCUMENTS = (
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
)
#: One presentation context per group, so the PACS can send each file as it is stored.
_SYNTAX_GROUPS = (
    (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian),
    (JPEG2000Lossless,), (JPEG2000,), (JPEGBaseline8Bit,), (JPEGExtended12Bit,), (JPEGLosslessSV1,),
    (JPEGLSLossless,), (JPEGLSNearLossless,), (RLELossless,),
)
_DATE_RANGE = re.compile(r"^(\d{8})?-?(\d{8})?$")


@dataclass(frozen=True)
class StudyMatch:
    """A study the PACS found (patient fields kept for display, never logged)."""

    study_uid: str
    patient_id: str | None
    study_date: str | None
    accession_number: str | None
    modalities: str | None
    instances: int | None


def check_date_range(text: str) -> str:
    """``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``, ``-YYYYMMDD`` or ``YYYYMMDD-``; ValueError otherwise."""
    text = str(text).strip()
    match = _DATE_RANGE.match(text)
    if not text or not match or not any(match.groups()) or ("-" not in text and len(text) != 8):
        raise ValueError(f"invalid date or date range '{text}': use YYYYMMDD or YYYYMMDD-YYYYMMDD")
    return text


def find_studies(peer: Peer, calling_ae: str, patient_id: str | None = None, study_date: str | None = None,
                 accession_number: str | None = None) -> list[StudyMatch]:
    """C-FIND (Study Root, STUDY level) for studies matching every criterion given."""
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # made when pynetdicom loads
        StudyRootQueryRetrieveInformationModelFind as FindModel,
    )

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.PatientID = patient_id or ""
    query.StudyDate = study_date or ""
    query.AccessionNumber = accession_number or ""
    query.ModalitiesInStudy = ""
    query.NumberOfStudyRelatedInstances = ""
    ae = application_entity(calling_ae)
    ae.add_requested_context(FindModel)
    assoc = associate(ae, peer, "query")
    matches = []
    try:
        for status, identifier in assoc.send_c_find(query, FindModel):
            code = int(status.Status) if status is not None and "Status" in status else None
            if code in (0xFF00, 0xFF01) and identifier is not None:
                matches.append(_match(identifier))
            elif code != 0x0000:
                raise DicomNetworkError(f"query {peer}: {status_text(status)}")
    finally:
        if assoc.is_established:
            assoc.release()
    return sorted({m.study_uid: m for m in matches if m.study_uid}.values(), key=lambda m: (m.study_date or "", m.study_uid))


def _match(identifier: Dataset) -> StudyMatch:
    def text(keyword):
        value = identifier.get(keyword)
        if isinstance(value, MultiValue):
            value = "\\".join(str(v) for v in value)
        return None if value is None else str(value).strip() or None

    count = text("NumberOfStudyRelatedInstances")
    return StudyMatch(text("StudyInstanceUID") or "", text("PatientID"), text("StudyDate"), text("AccessionNumber"),
                      text("ModalitiesInStudy"), int(count) if count and count.isdigit() else None)


def retrieve_study(peer: Peer, calling_ae: str, study_uid: str, out_dir: str | Path) -> tuple[list[Path], int]:
    """C-GET one study into ``out_dir/<study uid>/``; return (files written, objects that failed)."""
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # made when pynetdicom loads
        StudyRootQueryRetrieveInformationModelGet as GetModel,
    )

    folder = Path(out_dir) / object_key(study_uid, study_uid.encode())
    written: list[Path] = []

    from pneumonet_core.dicom_node.exposure import DEFAULT_MAX_OBJECT_MB

    def on_store(event) -> int:
        try:
            if len(event.request.DataSet.getbuffer()) > DEFAULT_MAX_OBJECT_MB << 20:  # the listener's size cap
                return 0xA700
            data = event.encoded_dataset(include_meta=True)
            uid = str(event.request.AffectedSOPInstanceUID)
            written.append(write_bytes_atomic(folder / f"{object_key(uid, data)}.dcm", data))
        except Exception:  # noqa: BLE001 - a full disk fails this object; the PACS counts it
            return 0xA700
        return 0x0000

    ae = application_entity(calling_ae)
    ae.add_requested_context(GetModel)
    for sop_class in RETRIEVED_CLASSES:
        for syntaxes in _SYNTAX_GROUPS:
            ae.add_requested_context(sop_class, list(syntaxes))
    for sop_class in RETRIEVED_DOCUMENTS:
        ae.add_requested_context(sop_class, list(_SYNTAX_GROUPS[0]))
    roles = [build_role(sop_class, scp_role=True) for sop_class in RETRIEVED_CLASSES + RETRIEVED_DOCUMENTS]
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    assoc = associate(ae, peer, "retrieve from", ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    failed = 0
    try:
        last = None
        for status, _identifier in assoc.send_c_get(query, GetModel):
            last = status
        if last is None or "Status" not in last:
            raise DicomNetworkError(f"retrieve from {peer}: study {study_uid}: {status_text(last)}")
        failed = int(last.get("NumberOfFailedSuboperations") or 0)
        if int(last.Status) not in (0x0000, 0xB000):
            raise DicomNetworkError(f"retrieve from {peer}: study {study_uid}: {status_text(last)}")
    finally:
        if assoc.is_established:
            assoc.release()
    return sorted(set(written)), failed
