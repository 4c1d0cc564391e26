"""Counts over batch results and the filters a results table offers, shared by GUI and reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pneumonet_core.results import ScanResult

#: Filter names, in the order the batch panel offers them.
FILTERS = ("all", "pneumonia", "normal", "errors", "warnings", "ood")
FILTER_TITLES = {
    "all": "All scans",
    "pneumonia": "Only pneumonia",
    "normal": "Only no pneumonia found",
    "errors": "Only errors",
    "warnings": "Only warnings",
    "ood": "Only not-a-chest-X-ray",
}


def format_pair(probability: float, threshold: float, min_decimals: int = 3) -> tuple[str, str]:
    """Probability and threshold with the fewest decimals (at least ``min_decimals``, at most 6)
    that keep them apart, so a printed probability never seems to equal the threshold."""
    p = t = ""
    for decimals in range(min_decimals, 7):
        p, t = f"{probability:.{decimals}f}", f"{threshold:.{decimals}f}"
        if p != t:
            break
    return p, t


def matches(result: ScanResult, name: str) -> bool:
    """True when ``result`` passes the named filter (see :data:`FILTERS`).

    A scan the out-of-distribution guard flagged ("ood") has its decision withheld from
    people, so it is listed under neither PNEUMONIA nor NORMAL.
    """
    if name == "all":
        return True
    if name == "ood":
        return result.withheld
    if name == "pneumonia":
        return result.ok and not result.withheld and result.label == "PNEUMONIA"
    if name == "normal":
        return result.ok and not result.withheld and result.label == "NORMAL"
    if name == "errors":
        return not result.ok
    if name == "warnings":
        return bool(result.warnings)
    raise ValueError(f"unknown filter {name!r}: use one of {', '.join(FILTERS)}")


@dataclass
class BatchSummary:
    """How many scans were classified, per label, withheld by the guard, with warnings, and failed.

    A withheld scan (not a chest X-ray this model knows) is not counted under its label.
    """

    total: int = 0
    labels: dict = field(default_factory=dict)
    warnings: int = 0
    errors: int = 0
    withheld: int = 0

    @classmethod
    def of(cls, results: Iterable[ScanResult]) -> BatchSummary:
        s = cls(labels={"PNEUMONIA": 0, "NORMAL": 0})
        for r in results:
            s.total += 1
            if r.withheld:
                s.withheld += 1
            elif r.ok:
                s.labels[r.label] = s.labels.get(r.label, 0) + 1
            else:
                s.errors += 1
            if r.warnings:
                s.warnings += 1
        return s

    @property
    def classified(self) -> int:
        return self.total - self.errors

    def line(self) -> str:
        """One line for a status bar or a terminal."""
        parts = [f"{self.total} scan{'s' if self.total != 1 else ''}"]
        # NORMAL keeps its class name (scripts read it) and says what it means.
        parts += [f"{n} {label}" + (" (no pneumonia found)" if label == "NORMAL" else "")
                  for label, n in self.labels.items()]
        if self.withheld:
            parts.append(f"{self.withheld} withheld (not a chest X-ray this model knows)")
        parts.append(f"{self.warnings} with warnings")
        parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return " · ".join(parts)
