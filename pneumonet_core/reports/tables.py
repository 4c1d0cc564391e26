"""CSV and JSON tables of batch results (one row per scan), and reading a CSV back to resume.

Both tables carry the model's name and hash on every row, so a table separated from its
run still says which model produced it; de-identification is applied to every row. CSV
cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return, from a file name for instance) are prefixed with a quote, as OWASP
recommends. A withheld scan's row has the label WITHHELD and no probability; its score
stays only in ``withheld_probability_not_for_use``. Each CSV row ends with ``row_check``, a keyed digest of its values, so
``--resume`` trusts only rows this installation wrote and nobody edited since.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from pneumonet_core.atomic import AppendingFile, write_text_atomic
from pneumonet_core.errors import PneumonetError
from pneumonet_core.imaging.scan import SourceInfo
from pneumonet_core.models.card import ModelCard, describe_guard
from pneumonet_core.printable import printable
from pneumonet_core.reports.deidentify import deidentified
from pneumonet_core.results import SUBTYPE_CAVEAT, ScanResult
from pneumonet_core.secret import keyed_digest

CSV_COLUMNS = (
    "path", "file_sha256", "probability", "label", "threshold", "warnings", "error",
    "model_name", "model_hash", "format", "width", "height",
    "out_of_distribution", "ood_score", "ood_reason", "withheld_probability_not_for_use",
    "subtype", "viral_probability", "row_check",
)
#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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
        "ood_guard": describe_guard(card.ood or {}),
    }


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{float(value):.6f}"


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def csv_row(result: ScanResult, card: ModelCard) -> dict:
    """One CSV row (values as written, before formula neutralisation), with its check digest."""
    src = result.source
    row = {
        "path": printable(result.path),  # undecodable bytes and newlines escaped: one row, any encoding
        "file_sha256": result.file_sha256 or "",
        "probability": _fmt(result.probability),
        "label": result.label or "",
        "threshold": _fmt(result.threshold if result.threshold is not None else card.threshold),
        "warnings": WARNING_SEPARATOR.join(result.warnings),
        "error": result.error or "",
        "model_name": card.name,
        "model_hash": card.hash,
        "format": (src.format if src else "") or "",
        "width": (src.width if src else "") or "",
        "height": (src.height if src else "") or "",
        "out_of_distribution": _flag(result.out_of_distribution),
        "ood_score": "" if result.ood_score is None else f"{float(result.ood_score):.4f}",
        "ood_reason": result.ood_reason or "",
        "withheld_probability_not_for_use": _fmt(result.withheld_probability_not_for_use),
        "subtype": result.subtype or "",
        "viral_probability": _fmt(result.viral_probability),
    }
    row["row_check"] = row_check(row)
    return row


def row_check(row: dict) -> str:
    """The keyed digest of a row's values (every column but ``row_check``)."""
    values = [str(row.get(column, "")) for column in CSV_COLUMNS if column != "row_check"]
    return keyed_digest("csv-row", json.dumps(values, ensure_ascii=False))


def neutralise(value) -> str:
    """A cell that a spreadsheet would run as a formula, made text with a leading quote."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _restore(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


class CsvWriter:
    """Writes a results CSV one row at a time; the file appears, whole, on :meth:`close`.

    Rows go to a temporary file beside ``path`` (see :class:`~pneumonet_core.atomic.AppendingFile`),
    so an interrupted run, closed on its way out, leaves every row written so far in ``path``.
    """

    def __init__(self, path: str | Path, card: ModelCard, deidentify: bool = True):
        self.card, self.deidentify = card, deidentify
        self._out = AppendingFile(path)
        self._buf = io.StringIO()
        self._writer = csv.DictWriter(self._buf, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()
        self._flush()

    def _flush(self) -> None:
        self._out.write(self._buf.getvalue())
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, result: ScanResult) -> None:
        row = csv_row(deidentified(result, self.deidentify), self.card)
        self._writer.writerow({k: neutralise(v) for k, v in row.items()})
        self._flush()

    def close(self) -> Path:
        return self._out.close()

    def discard(self) -> None:
        self._out.discard()


def csv_text(results: Iterable[ScanResult], card: ModelCard, deidentify: bool = True) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for result in results:
        writer.writerow({k: neutralise(v) for k, v in csv_row(deidentified(result, deidentify), card).items()})
    return buf.getvalue()


def write_csv(results: Iterable[ScanResult], path: str | Path, card: ModelCard, deidentify: bool = True) -> Path:
    """Write one CSV row per result (atomically); de-identified unless told otherwise."""
    return write_text_atomic(path, csv_text(results, card, deidentify))


def json_document(results: Iterable[ScanResult], model: dict, deidentify: bool = True) -> dict:
    """``{"model": ..., "results": [...]}``, the document ``pneumonet classify --json`` prints.

    De-identified, the model's file is named without its folder too.
    """
    if deidentify and model.get("path"):
        model = {**model, "path": Path(str(model["path"])).name}
    rows = [deidentified(r, deidentify).to_dict(deidentify=deidentify) for r in results]
    for row in rows:
        row["path"] = printable(row["path"])  # undecodable bytes escaped, so the document is valid UTF-8
    document = {"model": model, "results": rows}
    if any(row.get("subtype") for row in rows):
        document["subtype_note"] = SUBTYPE_CAVEAT
    return document


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
    return [(result, model_hash) for result, model_hash, _ in read_csv_checked(path)]


def read_csv_checked(path: str | Path) -> list[tuple[ScanResult, str, bool]]:
    """Like :func:`read_csv`, with whether each row's ``row_check`` proves it unedited."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "file_sha256", "probability", "label", "model_hash"} - set(reader.fieldnames or ())
            if missing:
                raise PneumonetError(f"{path}: not a Pneumonet results CSV (missing {', '.join(sorted(missing))})")
            rows = []
            for line, raw in enumerate(reader, start=2):
                row = {k: _restore(v or "") for k, v in raw.items() if isinstance(k, str)}
                trusted = bool(row.get("row_check")) and row_check(row) == row.get("row_check")
                try:
                    # The CSV keeps format and size only: a partial source (see SourceInfo.from_dict),
                    # none for a row without them (a failed scan).
                    kept = {k: row[k] for k in ("format", "width", "height") if row.get(k)}
                    source = SourceInfo.from_dict(kept) if kept else None
                    result = ScanResult(
                        path=Path(row["path"]),
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
                        withheld_probability_not_for_use=_float(row.get("withheld_probability_not_for_use", "")),
                        subtype=row.get("subtype") or None,
                        viral_probability=_float(row.get("viral_probability", "")),
                    )
                except (TypeError, ValueError) as exc:
                    raise PneumonetError(f"{path}: line {line}: unreadable row ({exc})") from None
                rows.append((result, row["model_hash"] or "", trusted))
            return rows
    except OSError as exc:
        raise PneumonetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PneumonetError(f"{path}: not a readable CSV ({exc})") from None
