"""The result of classifying one scan, as every output (screen, CSV, JSON, PDF) reports it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pneumonet_core.imaging.scan import IDENTIFYING_KEYS


@dataclass
class ScanResult:
    """One scan's outcome: a probability and decision, or an error; never both."""

    path: str
    probability: float | None = None
    label: str | None = None
    threshold: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    source: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    file_sha256: str | None = None
    class_probabilities: dict | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, deidentify: bool = False) -> dict:
        """JSON-ready dict; ``deidentify`` leaves out patient names, ids and birth dates."""
        d = asdict(self)
        if deidentify:
            d["metadata"] = {k: v for k, v in d["metadata"].items() if k not in IDENTIFYING_KEYS}
        return d


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of a file's bytes (None when unreadable), for audit trails in reports."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
