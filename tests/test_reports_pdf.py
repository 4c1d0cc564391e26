"""The PDF reports, read back as a person would: text with pdftotext, pages rendered with pdftoppm.

Rendered first pages are saved as screenshots ($PNEUMONET_SCREENSHOTS or the test's folder).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumonet_core.results import decision_words
from tests.test_batch_folder import IDENTIFIERS, PATIENT_ID, make_batch_folder, make_split_model


@pytest.fixture(autouse=True, scope="module")
def poppler():
    """The PDFs are read back with poppler-utils; without it these tests fail, they never skip."""
    missing = [tool for tool in ("pdftotext", "pdftoppm", "pdfinfo", "pdfimages") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: apt-get install -y poppler-utils")


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def render_page(path: Path, out_png: Path, page: int = 1, dpi: int = 80) -> np.ndarray:
    """Render one page to ``out_png`` and return it as an RGB array."""
    stem = out_png.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), "-singlefile",
                    str(path), str(stem)], check=True)
    with Image.open(out_png) as im:
        return np.asarray(im.convert("RGB"))


def assert_not_blank(pixels: np.ndarray) -> None:
    gray = pixels.mean(axis=-1)
    assert gray.std() > 20, "the rendered page is blank"
    assert (gray < 100).mean() > 0.01, "the rendered page has almost no dark ink"


def red_fraction(pixels: np.ndarray) -> float:
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return float(((r > 150) & (r - g > 70) & (r - b > 70)).mean())


def warm_fraction(pixels: np.ndarray) -> float:
    """Orange-to-yellow pixels: the hot end of the heat map's colours (inferno), not in a grey film."""
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return float(((r > 150) & (r - b > 90)).mean())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_batch_folder(tmp_path_factory.mktemp("pdf"))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, folder):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(make_split_model(tmp_path_factory.mktemp("model"), folder.good))


@pytest.fixture(scope="module")
def study(folder, classifier):
    """The patient's DICOM, classified, with its heat map; the card carries held-out metrics."""
    from pneumonet_core.imaging import load_scan

    scan = load_scan(folder.patient_files[0])
    prediction = classifier.classify(scan)
    heatmap = classifier.heatmap(scan, prediction)
    metrics = {"n": 624, "patients": 301, "roc_auc": 0.9512, "accuracy": 0.9038, "sensitivity": 0.9462,
               "specificity": 0.8333}
    card = dataclasses.replace(classifier.card, name="pneumonet-test-card", version="3", metrics=metrics)
    return scan, prediction, heatmap, card


def test_study_report_reads_right(tmp_path, study, shots):
    from pneumonet_core.reports.study_pdf import write_study_report
    from pneumonet_core.reports.summary import format_pair

    scan, prediction, heatmap, card = study
    assert scan.warnings, "the test DICOM should carry a warning (a lateral view)"
    pdf = write_study_report(tmp_path / "study.pdf", scan, prediction, heatmap, card, deidentify=False,
                             app_version="9.8.7")
    text = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "Chest X-ray decision support report" in flat
    assert decision_words(prediction.label) in flat  # in words: "No pneumonia found", not NORMAL
    assert "The model assesses pneumonia only" in flat and "TB, nodules or devices" in flat
    p_text, t_text = format_pair(prediction.probability, prediction.threshold)
    sign = "\u2265" if prediction.label == "PNEUMONIA" else "<"
    assert f"{prediction.probability * 100:.1f} %" in flat and f"p = {p_text} {sign} threshold {t_text}" in flat
    assert " ".join(scan.warnings[0].split()) in flat
    assert "Study date 2024-03-15" in flat and "Doe" in flat and PATIENT_ID in flat  # not de-identified
    assert "pneumonet-test-card (version 3)" in flat and "backbone custom-cnn" in flat
    assert "ROC-AUC 0.951" in flat and "sensitivity 0.946" in flat and "specificity 0.833" in flat
    # independent patients first (here: not measured, and said so), the held-out split second, labelled
    assert flat.index("Independent not measured") < flat.index("Held-out ROC-AUC 0.951") and "not independent" in flat
    assert f"sha256:{card.hash}" in flat
    assert "Pneumonet 9.8.7" in flat and dt.date.today().isoformat() in flat
    assert "Decision support for a clinician, not a diagnosis" in flat
    assert pdf_pages(pdf) == 1
    page = render_page(pdf, shots / "report-study-page1.png")
    assert_not_blank(page)
    # The heat map's hot regions are drawn: warm colours beyond those of the same report without it
    # (the PNEUMONIA decision's own orange is warm too).
    plain = render_page(write_study_report(tmp_path / "plain.pdf", scan, prediction, None, card, deidentify=False),
                        tmp_path / "plain.png")
    assert warm_fraction(page) > warm_fraction(plain) + 0.002


def test_deidentified_study_report_names_no_patient(tmp_path, study):
    from pneumonet_core.reports.study_pdf import study_report_name, write_study_report

    scan, prediction, heatmap, card = study
    pdf = write_study_report(tmp_path / "study.pdf", scan, prediction, heatmap, card, deidentify=True)
    text = pdf_text(pdf)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    for word in IDENTIFIERS:
        assert word not in text and word not in info, word
    assert "De-identified" in text and "anon-" in text  # the file named after the patient is hashed
    assert "Study date" in text  # non-identifying metadata stays
    name = study_report_name(scan, deidentify=True)
    assert name.startswith("anon-") and name.endswith("-report.pdf")
    assert study_report_name(scan, deidentify=False) == "Doe_Jane_chest-report.pdf"


def test_study_report_without_heatmap_still_renders(tmp_path, study):
    from pneumonet_core.reports.study_pdf import write_study_report

    scan, prediction, _, card = study
    pdf = write_study_report(tmp_path / "study.pdf", scan, prediction, None, card)
    assert "Heat map unavailable" in pdf_text(pdf)
    assert_not_blank(render_page(pdf, tmp_path / "page.png"))


def test_report_write_is_atomic(tmp_path, study, monkeypatch):
    """A report that fails half-way leaves the previous file as it was and no temporary file."""
    from reportlab.platypus import SimpleDocTemplate

    from pneumonet_core.reports.study_pdf import write_study_report

    scan, prediction, heatmap, card = study
    target = tmp_path / "study.pdf"
    target.write_bytes(b"previous report")

    def broken_build(self, *args, **kwargs):
        Path(self.filename).write_bytes(b"%PDF-1.4 half")
        raise OSError("disk full")

    monkeypatch.setattr(SimpleDocTemplate, "build", broken_build)
    with pytest.raises(OSError):
        write_study_report(target, scan, prediction, heatmap, card)
    assert target.read_bytes() == b"previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.pdf"]


def test_batch_report_reads_right(tmp_path, folder, classifier, shots):
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.reports.batch_pdf import write_batch_report
    from pneumonet_core.reports.heatmap_images import thumbnail
    from pneumonet_core.reports.summary import BatchSummary, format_pair

    thumbs = {}
    results = list(classify_paths(find_scans([folder.root]), classifier, batch_size=4,
                                  on_decoded=lambda p, s: thumbs.__setitem__(str(p), thumbnail(s.pixels))))
    pdf = write_batch_report(tmp_path / "batch.pdf", results, classifier.card, thumbnails=thumbs,
                             load_missing_thumbnails=False, app_version="9.8.7")
    text = pdf_text(pdf)
    flat = " ".join(text.split())
    s = BatchSummary.of(results)
    assert "Batch classification report" in flat and "Pneumonet 9.8.7" in flat
    # The summary tiles: titles, then the five counts in order.
    assert "SCANS PNEUMONIA NO PNEUMONIA WITH WARNINGS ERRORS" in flat
    assert "The model assesses pneumonia only" in flat
    assert (f"{s.total} {s.labels['PNEUMONIA']} {s.labels['NORMAL']} {s.warnings} {s.errors}") in flat
    assert "Decision support for a clinician, not a diagnosis" in flat
    assert classifier.card.name in flat and f"sha256:{classifier.card.hash}" in flat
    from pneumonet_core.reports.deidentify import deidentified

    for r in results:  # one line per scan: its file (by its pseudonym) and its result or error
        assert str(deidentified(r).path) in text
        if r.ok:
            assert format_pair(r.probability, r.threshold)[0] in text
        else:  # the error as exported: a file name inside it is the pseudonym too
            assert deidentified(r).error.split(" (")[0][:30] in flat
    for word in IDENTIFIERS:  # de-identified by default
        assert word not in text, word
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    kinds = [line.split()[2] for line in images.strip().splitlines()[2:]]
    assert kinds.count("image") == 1 + sum(r.ok for r in results)  # the histogram and one thumbnail per scan
    page = render_page(pdf, shots / "report-batch-page1.png")
    assert_not_blank(page)
    assert red_fraction(page) > 0.001  # the PNEUMONIA bars of the histogram


def test_long_batch_report_pages_every_scan(tmp_path, classifier):
    from pneumonet_core.reports.batch_pdf import write_batch_report
    from pneumonet_core.results import ScanResult

    rng = np.random.default_rng(0)
    results = [ScanResult(path=f"/data/run/scan-{i:04d}.png", probability=float(p), threshold=0.5,
                          label="PNEUMONIA" if p >= 0.5 else "NORMAL", file_sha256=f"{i:064x}")
               for i, p in enumerate(rng.beta(2, 2, size=150))]
    pdf = write_batch_report(tmp_path / "long.pdf", results, classifier.card, load_missing_thumbnails=False)
    text = pdf_text(pdf)
    pages = pdf_pages(pdf)
    assert pages >= 4 and f"Page {pages} of {pages}" in text
    from pneumonet_core.reports.deidentify import deidentified

    assert all(str(deidentified(r).path) in text for r in results)


def test_study_report_says_ages_in_words_and_lists_the_measurements(tmp_path, study):
    from pneumonet_core.reports.study_pdf import write_study_report

    scan, prediction, heatmap, card = study
    assert scan.metadata["patient_age"] == "004Y"
    rows = [("Distance 1", "42.3 mm"), ("Angle 1", "37.5\u00b0"), ("Calibration", "Pixel Spacing: 0.2 mm per pixel")]
    text = " ".join(pdf_text(write_study_report(tmp_path / "m.pdf", scan, prediction, heatmap, card,
                                                deidentify=False, measurements=rows)).split())
    assert "4 years" in text and "004Y" not in text
    assert "Measurements" in text and "Distance 1 42.3 mm" in text and "Angle 1 37.5\u00b0" in text
    assert "Pixel Spacing: 0.2 mm per pixel" in text
    plain = " ".join(pdf_text(write_study_report(tmp_path / "p.pdf", scan, prediction, heatmap, card)).split())
    assert "Measurements" not in plain
    noted = " ".join(pdf_text(write_study_report(tmp_path / "n.pdf", scan, prediction, None, card,
                                                 heatmap_note="Heat map not shown for a NORMAL decision")).split())
    assert "Heat map not shown for a NORMAL decision" in noted and "could be computed" not in noted
