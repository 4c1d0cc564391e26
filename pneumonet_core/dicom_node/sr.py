"""The Structured Report answer: a Comprehensive SR with TID 1500 Measurement Report content.

One image-level measurement group (TID 1501) for the finding "Pneumonia" holds:

- the decision as a qualitative evaluation: Finding = Pneumonia (SCT 233604007) or
  Normal (SCT 17621005), that is PNEUMONIA / NORMAL;
- the probability of pneumonia and the decision threshold, without units;
- when the result carries one, the out-of-distribution flag (Yes/No) and its score;
- for a PNEUMONIA decision with a bacterial/viral opinion: Pneumonia type = Bacterial
  pneumonia (SCT 53084003), Viral pneumonia (SCT 75570004) or Undetermined, the
  probability of viral pneumonia, and the caveat that a film alone cannot establish the cause;
- the algorithm identification (TID 4019): the model's name and version, with the
  threshold and the model's content hash as parameters;
- the source image the result was computed on.

A withheld result (a scan the out-of-distribution guard flagged) gets a report that says
only that no result was given and why: procedure "Imaging" (not "Plain chest X-ray"), a
group with Result withheld = Yes, Out of distribution = Yes, its score and the reason as
text; no finding, no probability, no threshold.

The report is unverified and preliminary: decision support, not a diagnosis. Concepts
that have no standard code use the private scheme ``99PNEUMONET``, declared in the
Coding Scheme Identification Sequence.
"""

from __future__ import annotations

import datetime

from highdicom import UID as HdUID
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import (
    AlgorithmIdentification,
    CodedConcept,
    ComprehensiveSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    TextContentItem,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from pneumonet_core.dicom_node.study import MANUFACTURER, NOT_FOR_DIAGNOSIS, SR_SERIES_NUMBER, equipment
from pneumonet_core.results import SUBTYPE_CAVEAT, WITHHELD_MESSAGE

PRIVATE_SCHEME = "99PNEUMONET"
PNEUMONIA = CodedConcept("233604007", "SCT", "Pneumonia")
NORMAL = CodedConcept("17621005", "SCT", "Normal")
CHEST_RADIOGRAPH = CodedConcept("399208008", "SCT", "Plain chest X-ray")
#: The procedure of a withheld result: the guard says the image may not be a chest X-ray at all.
IMAGING = CodedConcept("363679005", "SCT", "Imaging")
RESULT_WITHHELD = CodedConcept("WITHHELD", PRIVATE_SCHEME, "Result withheld")
WITHHELD_REASON = CodedConcept("WITHHELD-REASON", PRIVATE_SCHEME, "Reason the result was withheld")
PROBABILITY = CodedConcept("PNEUMONIA-PROB", PRIVATE_SCHEME, "Probability of pneumonia")
THRESHOLD = CodedConcept("THRESHOLD", PRIVATE_SCHEME, "Decision threshold")
OUT_OF_DISTRIBUTION = CodedConcept("OOD", PRIVATE_SCHEME, "Out of distribution")
OOD_SCORE = CodedConcept("OOD-SCORE", PRIVATE_SCHEME, "Out-of-distribution score")
PNEUMONIA_TYPE = CodedConcept("PNEUMONIA-TYPE", PRIVATE_SCHEME, "Pneumonia type")
SUBTYPE_CODES = {"BACTERIA": CodedConcept("53084003", "SCT", "Bacterial pneumonia"),
                 "VIRUS": CodedConcept("75570004", "SCT", "Viral pneumonia"),
                 "UNDETERMINED": CodedConcept("UNDETERMINED", PRIVATE_SCHEME, "Undetermined")}
VIRAL_PROBABILITY = CodedConcept("VIRAL-PROB", PRIVATE_SCHEME, "Probability of viral pneumonia")
SUBTYPE_NOTE = CodedConcept("PNEUMONIA-TYPE-NOTE", PRIVATE_SCHEME, "Pneumonia type caveat")
NO_UNITS = codes.UCUM.NoUnits


def _coding_scheme() -> CodingSchemeIdentificationItem:
    return CodingSchemeIdentificationItem(
        designator=PRIVATE_SCHEME, name="Pneumonet concepts", responsible_organization=MANUFACTURER)


def _number(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _sources(source: Dataset | None):
    if source is not None and "SOPInstanceUID" in source:
        return [SourceImageForMeasurementGroup(str(source.SOPClassUID), str(source.SOPInstanceUID))]
    return None


def withheld_group(result, card, source: Dataset | None) -> MeasurementsAndQualitativeEvaluations:
    """The TID 1501 group of a withheld result: that no result was given, and why; no finding."""

    algorithm = AlgorithmIdentification(name=(card.name or "model")[:64], version=str(card.version)[:64],
                                        parameters=[f"sha256={card.hash or 'unknown'}"[:64]])
    score = _number(getattr(result, "ood_score", None))
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=HdUID(), identifier="Pneumonet result withheld"),
        algorithm_id=algorithm,
        measurements=[Measurement(name=OOD_SCORE, value=score, unit=NO_UNITS)] if score is not None else None,
        qualitative_evaluations=[QualitativeEvaluation(RESULT_WITHHELD, codes.SCT.Yes),
                                 QualitativeEvaluation(OUT_OF_DISTRIBUTION, codes.SCT.Yes)],
        source_images=_sources(source),
    )
    reason = getattr(result, "ood_reason", None)
    why = f"{WITHHELD_MESSAGE}: {reason}" if reason else WITHHELD_MESSAGE
    group[0].ContentSequence.append(TextContentItem(WITHHELD_REASON, why[:1024], relationship_type="CONTAINS"))
    return group


def measurement_group(result, card, source: Dataset | None) -> MeasurementsAndQualitativeEvaluations:
    """The TID 1501 group stating the finding, probability, threshold, OOD flag and model."""
    if getattr(result, "withheld", False):
        return withheld_group(result, card, source)
    algorithm = AlgorithmIdentification(
        name=(card.name or "model")[:64], version=str(card.version)[:64],
        parameters=[f"threshold={result.threshold:.6g}", f"sha256={card.hash or 'unknown'}"[:64]],
    )
    measurements = [
        Measurement(name=PROBABILITY, value=float(result.probability), unit=NO_UNITS,
                    algorithm_id=algorithm),
        Measurement(name=THRESHOLD, value=float(result.threshold), unit=NO_UNITS),
    ]
    evaluations = [QualitativeEvaluation(codes.DCM.Finding, PNEUMONIA if result.label == "PNEUMONIA" else NORMAL)]
    ood = getattr(result, "out_of_distribution", None)
    if ood is not None:
        evaluations.append(QualitativeEvaluation(OUT_OF_DISTRIBUTION, codes.SCT.Yes if ood else codes.SCT.No))
        score = _number(getattr(result, "ood_score", None))
        if score is not None:
            measurements.append(Measurement(name=OOD_SCORE, value=score, unit=NO_UNITS))
    subtype = getattr(result, "subtype", None) if result.label == "PNEUMONIA" else None
    viral = _number(getattr(result, "viral_probability", None))
    if subtype in SUBTYPE_CODES and viral is not None:
        evaluations.append(QualitativeEvaluation(PNEUMONIA_TYPE, SUBTYPE_CODES[subtype]))
        measurements.append(Measurement(name=VIRAL_PROBABILITY, value=viral, unit=NO_UNITS))
    sources = _sources(source)
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=HdUID(), identifier="Pneumonet pneumonia classification"),
        algorithm_id=algorithm,
        finding_sites=[FindingSite(codes.SCT.Lung)],
        measurements=measurements,
        qualitative_evaluations=evaluations,
        source_images=sources,
    )
    if subtype in SUBTYPE_CODES and viral is not None:
        group[0].ContentSequence.append(TextContentItem(SUBTYPE_NOTE, SUBTYPE_CAVEAT, relationship_type="CONTAINS"))
    return group


def build_structured_report(source: Dataset | None, capture: Dataset, result, card,
                            series_uid: str | None = None) -> ComprehensiveSR:
    """The SR in the capture's study (that of the source), a new series, with fresh UIDs.

    ``source`` is the source image as :func:`~pneumonet_core.dicom_node.study.evidence_reference`
    makes it (checked patient and study attributes), None for PNG/JPEG inputs; ``capture``
    is the Secondary Capture answer. Both are listed as evidence.
    """
    observer = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=HdUID(), name="Pneumonet", manufacturer_name=MANUFACTURER, model_name=(card.name or "model")[:64]),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=observer),
        procedure_reported=IMAGING if getattr(result, "withheld", False) else CHEST_RADIOGRAPH,
        imaging_measurements=[measurement_group(result, card, source)],
    )
    now = datetime.datetime.now()
    options = dict(
        content=report[0],
        series_instance_uid=series_uid or generate_uid(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=(f"Pneumonet: no result given ({NOT_FOR_DIAGNOSIS.lower()})"
                            if getattr(result, "withheld", False) else
                            f"Pneumonet AI result ({NOT_FOR_DIAGNOSIS.lower()})"),
        coding_schemes=[_coding_scheme()],
        content_date=now.date(),
        content_time=now.time(),
        **equipment(card),
    )
    if source is None:
        sr = ComprehensiveSR(evidence=[capture], **options)
    else:
        try:  # the first evidence gives the patient, study and acquisition equipment
            sr = ComprehensiveSR(evidence=[source, capture], **options)
        except KeyError:  # a SOP class highdicom does not know: the capture carries the same study
            sr = ComprehensiveSR(evidence=[capture, source], **options)
    if "SpecificCharacterSet" in capture:
        sr.SpecificCharacterSet = capture.SpecificCharacterSet
    return sr
