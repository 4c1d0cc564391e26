"""CSV and JSON tables of batch results (one row per scan), and reading a CSV back to resume.

Both tables carry the model's name and hash on every row, so a table separated from its
run still says which model produced it; de-identification is applied to every row.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable

from pneumonet_core.errors import PneumonetError
from pneumonet_core.models.card import ModelCard
from pneumonet_core.ood.guard import describe_settings
from pneumonet_core.atomic import write_text_atomic
from pneumonet_core.reports.deidentify import deidentified
from pneumonet_core.results import ScanResult

CSV_COLUMNS = (
    "path", "file_sha256", "probability", "label", "threshold", "warnings", "error",
    "model_name", "model_hash", "format", "width", "height",
    "out_of_distribution", "ood_score", "ood_reason",
)
#: Warnings share one CSV cell, joined by this.
WARNING_SEPARATOR = "; "


def model_block(card: ModelCard, model_path: str | Path | None = None) -> dict:
    """The ``model`` object of JSON outputs (the same keys ``pneumonet classify --json`` prints)."""
    return {
        "name": card.name,
        "version": card.version,
        "hash": card.hash,
        "threshold": card.threshold,
        "threshold_rule": card.threshold_rule,
        "approach": card.approach,
        "backbone": card.backbone,
        "class_names": card.class_names,
        "path": str(model_path) if model_path else None,
        "ood_guard": describe_settings(card.ood or {}),
    }


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{float(value):.6f}"


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def csv_row(result: ScanResult, card: ModelCard) -> dict:
    src = result.source or {}
    return {
        "path": result.path,
        "file_sha256": result.file_sha256 or "",
        "probability": _fmt(result.probability),
        "label": result.label or "",
        "threshold": _fmt(result.threshold if result.threshold is not None else card.threshold),
        "warnings": WARNING_SEPARATOR.join(result.warnings),
        "error": result.error or "",
        "model_name": card.name,
        "model_hash": card.hash,
        "format": src.get("format") or "",
        "width": src.get("width") or "",
        "height": src.get("height") or "",
        "out_of_distribution": _flag(result.out_of_distribution),
        "ood_score": "" if result.ood_score is None else f"{float(result.ood_score):.4f}",
        "ood_reason": result.ood_reason or "",
    }


def csv_text(results: Iterable[ScanResult], card: ModelCard, deidentify: bool = True) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for result in results:
        writer.writerow(csv_row(deidentified(result, deidentify), card))
    return buf.getvalue()


def write_csv(results: Iterable[ScanResult], path: str | Path, card: ModelCard, deidentify: bool = True) -> Path:
    """Write one CSV row per result (atomically); de-identified unless told otherwise."""
    return write_text_atomic(path, csv_text(results, card, deidentify))


def json_document(results: Iterable[ScanResult], model: dict, deidentify: bool = True) -> dict:
    """``{"model": ..., "results": [...]}``, the document ``pneumonet classify --json`` prints."""
    return {"model": model, "results": [deidentified(r, deidentify).to_dict(deidentify=deidentify) for r in results]}


def write_json(results: Iterable[ScanResult], path: str | Path, card: ModelCard, deidentify: bool = True,
               model_path: str | Path | None = None) -> Path:
    """Write the JSON document of every result (atomically)."""
    document = json_document(results, model_block(card, model_path), deidentify)
    return write_text_atomic(path, json.dumps(document, indent=2, default=str) + "\n")


def _float(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def read_csv(path: str | Path) -> list[tuple[ScanResult, str]]:
    """Read a CSV written by :func:`write_csv`: (result, model hash) per row.

    Raises a one-line :class:`PneumonetError` when the file is missing or not such a CSV.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "file_sha256", "probability", "label", "model_hash"} - set(reader.fieldnames or ())
            if missing:
                raise PneumonetError(f"{path}: not a Pneumonet results CSV (missing {', '.join(sorted(missing))})")
            rows = []
            for line, row in enumerate(reader, start=2):
                try:
                    source = {k: row.get(k) for k in ("format", "width", "height") if row.get(k)}
                    for k in ("width", "height"):
                        if k in source:
                            source[k] = int(source[k])
                    result = ScanResult(
                        path=row["path"],
                        probability=_float(row["probability"]),
                        label=row["label"] or None,
                        threshold=_float(row.get("threshold", "")),
                        warnings=[w for w in (row.get("warnings") or "").split(WARNING_SEPARATOR) if w],
                        error=row.get("error") or None,
                        source=source,
                        file_sha256=row["file_sha256"] or None,
                        out_of_distribution={"true": True, "false": False}.get(row.get("out_of_distribution") or ""),
                        ood_score=_float(row.get("ood_score", "")),
                        ood_reason=row.get("ood_reason") or None,
                    )
                except (TypeError, ValueError) as exc:
                    raise PneumonetError(f"{path}: line {line}: unreadable row ({exc})") from None
                rows.append((result, row["model_hash"] or ""))
            return rows
    except OSError as exc:
        raise PneumonetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PneumonetError(f"{path}: not a readable CSV ({exc})") from None
