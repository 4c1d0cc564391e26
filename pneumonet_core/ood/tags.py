"""What a DICOM header says for or against a scan being a chest radiograph.

The pixels decide first (:mod:`.image_stats`, :mod:`.guard`); the header adds evidence.

- Against: a Modality that is not a projection radiograph (CT, MR, US, NM, MG...) or a
  Body Part Examined that is not the chest. Each such tag adds 1.0 to the scan's
  ``ood_score``, so one of them flags the scan on its own: the file itself says it is not
  a chest X-ray.
- For: a header that says both a projection radiograph (CR, DX, RG) and the chest. The
  feature distance of such a scan is weighed by :data:`CONFIRMED_FEATURE_WEIGHT`, so only
  a clearly stranger image is flagged: a chest film stored as DICOM is not refused for a
  borderline distance that would flag the same film as a JPEG, while a photo or a page
  wrapped in a chest header is still far beyond the limit.

A missing or empty tag says nothing (PNG and JPEG files have none; many DICOM files omit
Body Part Examined), and neither does a secondary capture (OT, SC), whose pixels may well
be a chest film.
"""

from __future__ import annotations

from pneumonet_core.imaging.clinical_warnings import CHEST_BODY_PARTS, RADIOGRAPH_MODALITIES

#: Modalities that say nothing about what the pixels show (secondary capture, other).
UNINFORMATIVE_MODALITIES = frozenset({"OT", "SC", "DOC"})
#: Added to the score for each contradicting tag: one is enough to flag.
TAG_WEIGHT = 1.0
#: The feature ratio of a scan whose header says "chest radiograph" is multiplied by this.
CONFIRMED_FEATURE_WEIGHT = 0.75


def _norm(value) -> str:
    return "_".join(str(value or "").upper().split())


def tag_evidence(metadata: dict) -> list[str]:
    """The reasons the header gives against a chest radiograph (empty when it gives none)."""
    reasons = []
    modality = _norm(metadata.get("modality"))
    if modality and modality not in RADIOGRAPH_MODALITIES and modality not in UNINFORMATIVE_MODALITIES:
        reasons.append(f"DICOM Modality {modality} is not a radiograph")
    body_part = _norm(metadata.get("body_part"))
    if body_part and body_part not in CHEST_BODY_PARTS:
        reasons.append(f"DICOM Body Part Examined is {str(metadata.get('body_part')).strip()}, not the chest")
    return reasons


def confirms_chest_radiograph(metadata: dict) -> bool:
    """True when the header says both a projection radiograph (CR, DX, RG) and the chest."""
    return (_norm(metadata.get("modality")) in RADIOGRAPH_MODALITIES
            and _norm(metadata.get("body_part")) in CHEST_BODY_PARTS)
