"""The result of classifying one scan: the one type that the pipeline produces and every
output (screen, batch table, CSV, JSON, PDF, DICOM answers) consumes unchanged."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pneumonet_core.imaging.files import open_regular
from pneumonet_core.imaging.scan import IDENTIFYING_KEYS, SourceInfo

#: What people are shown instead of the probability of a scan the guard flagged.
WITHHELD_MESSAGE = "Not a chest X-ray this model knows - result withheld"
#: The ``label`` of a withheld result: neither class, so a program reading ``label`` gets no answer.
WITHHELD = "WITHHELD"
#: What people read for each decision; machine outputs (CSV, JSON, exit codes) keep the class names.
DECISION_WORDS = {"PNEUMONIA": "Pneumonia", "NORMAL": "No pneumonia found", WITHHELD: "No result (withheld)"}
#: The ``subtype`` of a PNEUMONIA result whose viral probability lies in the subtype model's uncertain band.
UNDETERMINED = "UNDETERMINED"
#: Said beside every bacterial/viral opinion: the film is one piece of evidence.
SUBTYPE_CAVEAT = ("A film alone cannot establish the cause: bacterial or viral is a second opinion "
                  "for the clinical picture and tests.")
#: Said beside "No pneumonia found": the model answers one question only.
SCOPE_NOTE = ("The model assesses pneumonia only; it does not look for other findings "
              "such as TB, nodules or devices.")


def decision_words(label: str | None) -> str:
    """The words people read for a decision ("No pneumonia found" for NORMAL)."""
    return DECISION_WORDS.get(label or "", label or "")


def subtype_words(subtype: str | None, viral_probability: float | None) -> str:
    """The bacterial/viral opinion as people read it: "looks viral (p = 0.81)"; "" when there is none.

    The probability shown is that of the named cause (1 - viral for "looks bacterial").
    """
    if not subtype or viral_probability is None:
        return ""
    if subtype == "VIRUS":
        return f"looks viral (p = {viral_probability:.2f})"
    if subtype == "BACTERIA":
        return f"looks bacterial (p = {1.0 - viral_probability:.2f})"
    return f"undetermined (viral p = {viral_probability:.2f})"


@dataclass(frozen=True)
class ScanResult:
    """One scan's outcome: a probability and decision, or an error; never both.

    A result the out-of-distribution guard flagged is *withheld* from the moment it is
    made (:meth:`__post_init__`): ``label`` is :data:`WITHHELD`, ``probability`` and
    ``class_probabilities`` are None, and the model's score survives only as
    ``withheld_probability_not_for_use`` (for measuring a model on labelled films, never for
    people), so no consumer can show or export a withheld answer by mistake.

    Frozen: every step that adds to a result (decide, de-identify, a batch's display path)
    makes a new one with :func:`dataclasses.replace`, so a result shown or written is never
    changed under its reader.

    A result starts from the decoded scan (:meth:`of_scan`, or :meth:`failed` when the
    file could not be read) and gets its probability and decision from
    :meth:`Classifier.decide <pneumonet_core.inference.classifier.Classifier.decide>`.

    ``path`` is a :class:`~pathlib.Path` (a str given to the constructor, :meth:`failed` or
    :func:`dataclasses.replace` is made one) and ``source`` the scan's
    :class:`~pneumonet_core.imaging.scan.SourceInfo` (None for a failed scan; partial when
    read back from a CSV); only :meth:`to_dict` turns them into text for JSON.
    """

    path: Path
    probability: float | None = None
    label: str | None = None
    threshold: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    source: SourceInfo | None = None
    metadata: dict = field(default_factory=dict)
    file_sha256: str | None = None
    class_probabilities: dict | None = None
    #: The out-of-distribution guard (:mod:`pneumonet_core.ood`): True when the scan is not a
    #: chest X-ray this model knows. None when not assessed (a failed scan). A flagged scan
    #: has no probability and the label WITHHELD (see the class docstring).
    out_of_distribution: bool | None = None
    #: How strange the scan is, higher = stranger; it is flagged from 1.0 on (see :mod:`pneumonet_core.ood.guard`).
    ood_score: float | None = None
    #: Why it was flagged, in a short phrase; None when not flagged.
    ood_reason: str | None = None
    #: How de-identified exports name the file: relative to the folder it was found in
    #: (set by the batch command); None means the file name alone. Not exported itself.
    display_path: str | None = None
    #: The model's calibrated probability of a withheld scan: not an answer, not for use in
    #: care; kept so that a model can be measured on labelled films the guard flags.
    withheld_probability_not_for_use: float | None = None
    #: The bacterial/viral second opinion on a PNEUMONIA decision (:mod:`pneumonet_core.inference.subtype`):
    #: "BACTERIA", "VIRUS", or :data:`UNDETERMINED` inside the subtype model's uncertain band;
    #: None for every other result (NORMAL, withheld, failed, or no subtype model).
    subtype: str | None = None
    #: The calibrated probability that the pneumonia is viral; None whenever ``subtype`` is.
    viral_probability: float | None = None

    def __post_init__(self):
        # A str (a CSV cell, a caller's text) becomes a Path, as Path() reads it ("./a//b" is
        # "a/b"); frozen, so set the one way a frozen dataclass allows.
        if not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))
        # Withholding happens here, so every way of making a flagged result (decide,
        # dataclasses.replace, a CSV or journal read back) loses the answer alike.
        if self.out_of_distribution and self.error is None:
            # Frozen: the withheld fields are set the one way a frozen dataclass allows.
            if self.probability is not None:
                object.__setattr__(self, "withheld_probability_not_for_use", self.probability)
            for name, value in (("probability", None), ("label", WITHHELD), ("class_probabilities", None)):
                object.__setattr__(self, name, value)
        # The subtype is an opinion on a pneumonia only: none for NORMAL, withheld or failed scans.
        if self.label != "PNEUMONIA" or self.error is not None:
            object.__setattr__(self, "subtype", None)
            object.__setattr__(self, "viral_probability", None)

    @classmethod
    def of_scan(cls, scan, file_sha256: str | None = None) -> ScanResult:
        """The result of a decoded scan, before the model has answered."""
        return cls(path=scan.path, warnings=list(scan.warnings), source=scan.source,
                   metadata=dict(scan.metadata), file_sha256=file_sha256)

    @classmethod
    def failed(cls, path: str | Path, error: str, metadata: dict | None = None, file_sha256: str | None = None,
               threshold: float | None = None) -> ScanResult:
        """The result of a file that could not be read or classified: ``error`` says why."""
        return cls(path=Path(path), error=error, metadata=dict(metadata or {}), file_sha256=file_sha256,
                   threshold=threshold)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def classified(self) -> bool:
        """True once the model has answered: a probability and a decision, or a withheld result."""
        return self.error is None and (self.probability is not None or self.label == WITHHELD)

    @property
    def measured_probability(self) -> float | None:
        """The model's probability, withheld or not: for measuring a model on labelled films only."""
        return self.probability if self.probability is not None else self.withheld_probability_not_for_use

    @property
    def withheld(self) -> bool:
        """True when the guard flagged the scan: it has no probability or decision (see the class docstring)."""
        return bool(self.out_of_distribution) and self.error is None

    @property
    def subtype_text(self) -> str:
        """The bacterial/viral opinion in words ("looks viral (p = 0.81)"), "" when there is none."""
        return subtype_words(self.subtype, self.viral_probability)

    def to_dict(self, deidentify: bool = False) -> dict:
        """JSON-ready dict; ``deidentify`` leaves out patient names, ids and birth dates.

        The path as its text and the source as :meth:`SourceInfo.to_dict` (``{}`` for a failed
        scan), as the JSON outputs have always carried them.
        """
        d = asdict(self)
        d.pop("display_path", None)
        d["path"] = str(self.path)
        d["source"] = self.source.to_dict() if self.source is not None else {}
        if deidentify:
            d["metadata"] = {k: v for k, v in d["metadata"].items() if k not in IDENTIFYING_KEYS}
        return d


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of a file's bytes (None when unreadable or not a regular file), for audit trails."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()
