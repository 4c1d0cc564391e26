"""A batch's results as a file: CSV, JSON or a PDF report (a worker job: a PDF of thousands
of scans takes a while). Every file is written atomically by ``pneumonet_core.reports``.
"""

from __future__ import annotations

from pathlib import Path

from pneumonet_gui.export_dialog import EXPORT_KINDS  # noqa: F401 (the batch's kinds of export)


def write_export(kind: str, path: Path, results, card, deidentify: bool, thumbnails=None, model_path=None,
                 note: str | None = None) -> Path:
    """Write ``results`` as ``kind`` ("csv", "json" or "pdf") to ``path``; return the path."""
    from pneumonet_core.reports import batch_pdf, tables

    if kind == "csv":
        tables.write_csv(results, path, card, deidentify=deidentify)
    elif kind == "json":
        tables.write_json(results, path, card, deidentify=deidentify, model_path=model_path)
    elif kind == "pdf":
        batch_pdf.write_batch_report(path, results, card, thumbnails=thumbnails or {}, deidentify=deidentify,
                                     title_note=note)
    else:
        raise ValueError(f"unknown export kind {kind!r}")
    return Path(path)
