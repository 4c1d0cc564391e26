"""Send DICOM files to a PACS by C-STORE (the SCU side of ``listen --forward``)."""

from __future__ import annotations

from pathlib import Path

import pydicom

from pneumonet_core.dicom_node.network import (
    DicomNetworkError,
    Peer,
    application_entity,
    associate,
    is_success,
    status_text,
)


def send_files(peer: Peer, paths: list[Path], calling_ae: str) -> None:
    """C-STORE every file in ``paths`` to ``peer`` over one association.

    Each file is proposed in its own transfer syntax and in Explicit/Implicit VR Little
    Endian. Raises :class:`DicomNetworkError` (one line) when the peer cannot be reached
    or does not store one of them.
    """
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ae = application_entity(calling_ae)
    contexts: dict[str, set[str]] = {}
    for path in paths:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        syntaxes = contexts.setdefault(str(meta.MediaStorageSOPClassUID), {ExplicitVRLittleEndian, ImplicitVRLittleEndian})
        syntaxes.add(str(meta.TransferSyntaxUID))
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
    assoc = associate(ae, peer, "forward to")
    try:
        for path in paths:
            status = assoc.send_c_store(Path(path))
            if not is_success(status):
                raise DicomNetworkError(f"forward to {peer}: {Path(path).name} not stored: {status_text(status)}")
    finally:
        if assoc.is_established:
            assoc.release()
