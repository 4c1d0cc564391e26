"""The Secondary Capture answer: the scan with the heat map and a legend burnt in.

It is marked derived (Image Type DERIVED\\SECONDARY), with burnt-in annotation, a
derivation description and "NOT FOR PRIMARY DIAGNOSIS" in the pixels, the series
description and the image comments; it references its source image when there is one.
"""

from __future__ import annotations

import numpy as np
from highdicom.sc import SCImage
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from pneumonet_core.dicom_node.study import (
    NOT_FOR_DIAGNOSIS,
    SC_SERIES_NUMBER,
    copied_value,
    copy_reference,
    equipment,
)
from pneumonet_core.reports.heatmap_images import overlay_with_legend
from pneumonet_core.results import WITHHELD_MESSAGE, decision_words

#: Longest side of the captured image (the legend below it adds a little).
SC_MAX_SIDE = 2048
#: (0008,9215) code of the derivation: "Image processing" would be vaguer; this says what it is.
_PURPOSE_SOURCE = ("121322", "DCM", "Source image for image processing operation")


def legend_lines(result, card) -> list[str]:
    """The text burnt in below the image: decision, probability, threshold, model, warnings.

    A scan the out-of-distribution guard flagged shows no decision, no probability and no
    heat map: only why the result is withheld.
    """
    if result.withheld:
        reason = f" ({result.ood_reason})" if result.ood_reason else ""
        lines = [f"Pneumonet: {WITHHELD_MESSAGE}{reason}", f"Model {card.name} v{card.version} - {NOT_FOR_DIAGNOSIS}"]
    else:
        lines = [
            f"Pneumonet: {decision_words(result.label)}   probability {result.probability:.3f}   "
            f"(threshold {result.threshold:.3f})",
            "The model assesses pneumonia only, not other findings (TB, nodules, devices)",
            f"Model {card.name} v{card.version} - Grad-CAM heat map - {NOT_FOR_DIAGNOSIS}",
        ]
    warnings = list(getattr(result, "warnings", None) or [])
    if warnings:
        lines.append("Warnings: " + "; ".join(warnings))
    return lines


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def build_secondary_capture(reference: Dataset, source: Dataset | None, pixels: np.ndarray, heatmap: np.ndarray,
                            result, card, series_uid: str | None = None) -> SCImage:
    """The heat-map capture in the reference's study, a new series, with fresh UIDs.

    ``reference`` comes from :mod:`pneumonet_core.dicom_node.study`; ``source`` is the
    source image's header (None for PNG/JPEG inputs).
    """
    if heatmap is None:  # a withheld result: the scan alone
        heatmap = np.zeros(np.shape(pixels), dtype=np.float32)
    image = overlay_with_legend(pixels, heatmap, legend_lines(result, card), max_side=SC_MAX_SIDE)
    sc = SCImage(
        pixel_array=np.asarray(image, dtype=np.uint8),
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        study_instance_uid=reference.StudyInstanceUID,
        series_instance_uid=series_uid or generate_uid(),
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        patient_orientation=("L", "F"),  # required by highdicom; replaced below
        series_description=(f"Pneumonet: result withheld ({NOT_FOR_DIAGNOSIS.lower()})" if result.withheld
                            else f"Pneumonet heat map ({NOT_FOR_DIAGNOSIS.lower()})"),
        **equipment(card),
    )
    copy_reference(reference, sc)
    # The source's, else empty (type 2C); pydicom types the attribute a list, without DICOM's empty "".
    sc.PatientOrientation = _orientation(source)  # type: ignore[assignment]
    body_part = copied_value(source, "BodyPartExamined")
    if body_part in (None, "CHEST"):  # a chest, unpaired: Laterality stays absent
        sc.BodyPartExamined = "CHEST"
    else:  # another part, perhaps paired: its laterality, or empty when unknown (type 2C)
        laterality = copied_value(source, "Laterality") or copied_value(source, "ImageLaterality")
        sc.Laterality = laterality if laterality in ("R", "L") else ""
    sc.ConversionType = "WSD"
    sc.BurnedInAnnotation = "YES"
    if result.withheld:  # the header says no more than the pixels: no decision, no probability
        reason = f" ({result.ood_reason})" if result.ood_reason else ""
        sc.ImageComments = f"{NOT_FOR_DIAGNOSIS}. No result given: {WITHHELD_MESSAGE}{reason}."[:10240]
        sc.DerivationDescription = (f"Source image with a legend saying why model {card.name} version "
                                    f"{card.version} gave no result; {NOT_FOR_DIAGNOSIS.lower()}")[:1024]
    else:
        sc.ImageComments = (f"{NOT_FOR_DIAGNOSIS}. Decision support for a clinician, not a diagnosis: "
                            f"{result.label} ({decision_words(result.label)}; the model assesses pneumonia "
                            f"only), probability {result.probability:.4f}, threshold {result.threshold:.4f}.")
        sc.DerivationDescription = (f"Grad-CAM heat map of model {card.name} version {card.version} "
                                    f"blended over the source image, with a legend; {NOT_FOR_DIAGNOSIS.lower()}")[:1024]
    if source is not None and "SOPInstanceUID" in source:
        ref = Dataset()
        ref.ReferencedSOPClassUID = source.SOPClassUID
        ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
        ref.PurposeOfReferenceCodeSequence = [_code_item(*_PURPOSE_SOURCE)]
        sc.SourceImageSequence = [ref]
        if str(source.get("LossyImageCompression") or "") == "01":
            sc.LossyImageCompression = "01"
    return sc


def _orientation(source: Dataset | None) -> list[str] | str:
    """The source's Patient Orientation when it is a valid pair, else empty."""
    value = source.get("PatientOrientation") if source is not None else None
    try:
        pair = [str(v) for v in value] if value is not None and len(value) == 2 else None
    except TypeError:
        pair = None
    if pair and all(p and set(p) <= set("APLRHF") for p in pair):
        return pair
    return ""
