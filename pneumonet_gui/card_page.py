"""The model card as a readable page: rich text built from a :class:`ModelCard`, no Qt widgets.

``pneumonet info`` prints the card as aligned lines, and the JSON holds everything; a
person choosing or auditing a model needs neither. :func:`card_html` lays the card out in
sections: what the model is; how well it does, the held-out figures (patients of the same
data set, kept out of training) beside the external ones (patients outside the training
split), with one sentence on why they differ; the threshold and its rule; the probability
calibration and its reliability diagrams; the out-of-distribution guard; the data; how it
was trained; and its integrity. Charts are referenced as ``chart:<key>`` images that the
widget (:mod:`pneumonet_gui.model_card_view`) renders and registers.
"""

from __future__ import annotations

import html
import json
from datetime import datetime

from pneumonet_core.imaging.clinical_warnings import MAX_AGE_YEARS, MIN_AGE_YEARS
from pneumonet_core.models.card import ModelCard, calibration_text, strip_folders
from pneumonet_gui import theme

#: The figures of the "How well it does" table: (key, title, how to format).
FIGURE_ROWS = (("n", "Films", "int"), ("patients", "Patients", "int"), ("roc_auc", "ROC AUC", "3"),
               ("accuracy", "Accuracy", "3"), ("sensitivity", "Sensitivity", "3"), ("specificity", "Specificity", "3"),
               ("precision", "Precision", "3"), ("ece", "ECE (calibration error)", "3"), ("brier", "Brier score", "3"),
               ("threshold", "Threshold", "4"))
#: The external blocks of ``card.external``, as column titles, in the order shown: the
#: cross-fitted figures lead (independent patients, nothing fitted on those measured).
EXTERNAL_COLUMNS = (("after_cross_fitted", "External, cross-fitted by patient"),
                    ("after", "External, at the stored threshold"),
                    ("before", "External, before calibration"))
#: The held-out column, shown last: patients of the training data set, not independent.
HELD_OUT_COLUMN = "Held-out split of the training data (same hospital)"
#: Reliability diagrams a card can carry: (external block, title).
RELIABILITY_CHARTS = (("before", "Before calibration"), ("after_cross_fitted", "After calibration (cross-fitted)"),
                      ("after", "After calibration (these films)"))
WHY_DIFFERENT = ("Why the columns differ: held-out patients come from the same hospital and data set as the training "
                 "patients (only kept out of training), while external films come from patients outside the training "
                 "split, with other machines, habits and prevalence. The external figures are the better guide to what "
                 "to expect on new patients, and they are usually lower. \u201cAt the stored threshold\u201d chose the "
                 "threshold on those very films; \u201ccross-fitted\u201d fitted it on other patients than those "
                 "measured, as new patients will be.")
NO_EXTERNAL = ("Not yet measured on patients outside the training split. The held-out figures come from the same "
               "data set as the training patients and flatter the model: measure it on local films with Calibrate "
               "to local data\u2026 in Model \u25b8 Manage models (or <code>pneumonet calibrate</code>).")


def _e(value) -> str:
    return html.escape(str(value))


def readable_date(value) -> str:
    """An ISO timestamp as people read it: "26 Nov 2026, 22:29 UTC" (the value as stored if not ISO)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    day = f"{moment.day} {moment:%b %Y}"
    if len(str(value)) <= 10:  # a date alone
        return day
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else f" {moment:%z}"
    return f"{day}, {moment:%H:%M}{zone}"


def readable_value(value) -> str:
    """A training record's value for people: on/off for switches, file names for paths."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    return strip_folders(value) if isinstance(value, str) else str(value)


def intended_use_section(card: ModelCard) -> str:
    """Who the model is for and what it cannot do, before any figure (as a model card should)."""
    ages = ((card.ood or {}).get("population") or {}).get("ages_years") or (MIN_AGE_YEARS, MAX_AGE_YEARS)
    who = (f"Chest X-rays of <b>children aged {ages[0]:g} to {ages[1]:g} years</b>, <b>anterior-posterior</b> "
           "(frontal) views, like the films it was trained on (one public pediatric data set, one hospital).")
    limits = ("It assesses pneumonia only: it does not look for TB, nodules, fractures, devices or any other "
              "finding. It was not made for adults, lateral or posterior-anterior views, other body parts, CT or MR; "
              "the out-of-distribution guard withholds the result for films it recognises as such, but not for "
              "every one. Its figures come from that data set's patients and may not hold at another site: "
              "calibrate it to local films. Decision support for a clinician, not a diagnosis.")
    return _section("Intended use") + _pairs([("For", who), ("Limits", _e(limits))])


def number(value, kind: str = "3") -> str:
    """A figure as the page prints it: "n/a" when missing, else an int or a fixed number of decimals."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if kind == "int":
        return f"{int(value):,}"
    return f"{float(value):.{int(kind)}f}"


def _section(title: str) -> str:
    return (f'<h3 style="color:{theme.MUTED}; font-size:12px; letter-spacing:1px; margin-top:18px; '
            f'margin-bottom:4px">{_e(title.upper())}</h3>')


def _table(headers: list[str], rows: list[list[str]], first_bold: bool = True, numbers: bool = True) -> str:
    """A table; cells are already HTML; ``numbers`` right-aligns every column but the first."""
    head = "".join(f'<th style="color:{theme.MUTED}; text-align:{"left" if i == 0 else "right"}; '
                   f'padding:3px 10px">{_e(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            align = "right" if i and numbers else "left"
            weight = "font-weight:600;" if (i == 0 and first_bold) else ""
            cells.append(f'<td style="text-align:{align}; padding:2px 10px; {weight}">{cell}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table cellspacing="0" style="margin:2px 0">{"<tr>" + head + "</tr>" if headers else ""}{"".join(body)}</table>'


def _pairs(rows: list[tuple[str, str]]) -> str:
    """A two-column key/value table; values are already HTML."""
    return _table([], [[_e(k), v] for k, v in rows], numbers=False)


def _para(text: str, colour: str = "") -> str:
    style = f' style="color:{colour}"' if colour else ""
    return f"<p{style}>{text}</p>"


def identity_section(card: ModelCard, path=None, banner=()) -> str:
    """Name, version, approach, backbone, weights init, and where the file is."""
    parts = [f'<h2 style="margin-bottom:2px">{_e(card.name)} '
             f'<span style="color:{theme.MUTED}; font-weight:normal">version {_e(card.version)}</span></h2>']
    parts += [_para(_e(line), theme.ACCENT) for line in banner]
    size = card.input.get("size")
    rows = [("Approach", _e(card.approach)), ("Backbone", _e(card.backbone)),
            ("Weights initialisation", _e(card.weights_init or "n/a")), ("Classes", _e(", ".join(card.class_names))),
            ("Input", _e(f"{size[0]} \u00d7 {size[1]} grey, {card.input.get('preprocessing')}" if size else "n/a")),
            ("Stored as", _e(card.compression)),
            ("Created", _e(readable_date(card.created) if card.created else "n/a")),
            ("Code version", _e(card.code_version or "n/a"))]
    if path is not None:
        rows.append(("File", f"<code>{_e(path)}</code>"))
    return "".join(parts) + _pairs(rows)


def figures_section(card: ModelCard) -> str:
    """The figures on independent patients first (external, cross-fitted first), the held-out split
    of the training data last and labelled as such, and why they differ."""
    from pneumonet_core.models.figures import calibrated_on

    held = card.metrics or {}
    external = card.external or {}
    chosen_here = calibrated_on(card, external.get("file_list_sha256"))
    columns = []
    for key, title in EXTERNAL_COLUMNS:
        if external.get(key):
            if key == "after" and chosen_here:
                title += " (chosen on these films)"
            columns.append((title, {**external[key], "patients": external.get("patients")}))
    columns.append((HELD_OUT_COLUMN, held))
    rows = []
    for key, title, kind in FIGURE_ROWS:
        values = [number(block.get(key), kind) for _, block in columns]
        if all(v == "n/a" for v in values):
            continue
        rows.append([_e(title)] + values)
    out = [_section("How well it does")]
    if not external:
        out.append(_para(NO_EXTERNAL, theme.WARNING_FG))  # before the flattering figures, not after
    out.append(_table(["Figure"] + [c for c, _ in columns], rows))
    if external:
        site = (f"External films: <b>{_e(external.get('data_set'))}</b>, {number(external.get('images'), 'int')} "
                f"films of {number(external.get('patients'), 'int')} patients"
                + (f", per class {_e(per_class_text(external.get('per_class')))}" if external.get("per_class") else "")
                + (f", measured {_e(readable_date(external['date']))}" if external.get("date") else "") + ".")
        out += [_para(site), _para(_e(WHY_DIFFERENT), theme.MUTED)]
    return "".join(out)


def per_class_text(per_class) -> str:
    """Films per class as one phrase: "NORMAL 116, PNEUMONIA 172"."""
    return ", ".join(f"{k} {v}" for k, v in (per_class or {}).items())


def threshold_section(card: ModelCard) -> str:
    v, external = card.validation or {}, card.external or {}
    text = (f"<b>{card.threshold:.4f}</b> \u2014 rule: {_e(card.threshold_rule)}. A scan is called PNEUMONIA when its "
            "probability is at or above it.")
    chosen_on_site = external.get("after") and external.get("threshold_rule") == card.threshold_rule
    if chosen_on_site:
        a = external["after"]
        text += (f"<br>On the {number(a.get('n'), 'int')} films of {_e(external.get('data_set'))} that chose it: "
                 f"sensitivity <b>{number(a.get('sensitivity'))}</b>, specificity <b>{number(a.get('specificity'))}</b>.")
    elif v:
        text += (f"<br>On the {number(v.get('patients'), 'int')} validation patients that chose it: sensitivity "
                 f"<b>{number(v.get('sensitivity'))}</b>, specificity <b>{number(v.get('specificity'))}</b>.")
    return _section("Operating threshold") + _para(text)


def calibration_section(card: ModelCard, charts: list[tuple[str, str]]) -> str:
    """The calibration in use, the methods' cross-fitted scores, and the reliability diagrams."""
    cal = card.calibration or {}
    out = [_section("Calibration"), _para(f"Probabilities: <b>{_e(calibration_text(cal))}</b>.")]
    scores = cal.get("cross_fitted") or {}
    if scores:
        rows = [[_e(method) + (" \u2190 in use" if method == cal.get("method") else ""),
                 number(s.get("ece")), number(s.get("brier"))] for method, s in scores.items()]
        out.append(_para("Each method cross-fitted by patient on the site's films (lower is better; the simplest "
                         "within a small margin of the best is used):", theme.MUTED))
        out.append(_table(["Method", "ECE", "Brier"], rows))
    out.append(_section("Reliability diagram"))
    if charts:
        out.append(_para("Observed share of pneumonia against the predicted probability, in 10 bins: a calibrated "
                         "model lies on the diagonal.", theme.MUTED))
        cells = "".join(f'<td style="padding:4px 8px; text-align:center"><img src="chart:{_e(key)}" width="300">'
                        f"<br>{_e(title)}</td>" for key, title in charts)
        out.append(f"<table><tr>{cells}</tr></table>")
    else:
        out.append(_para("This card stores no reliability curve. <b>Measure on a folder\u2026</b> classifies a "
                         "labelled folder (NORMAL/ and PNEUMONIA/) and draws it.", theme.MUTED))
    return "".join(out)


def ood_section(card: ModelCard) -> str:
    ood = card.ood or {}
    out = [_section("Out-of-distribution guard")]
    if not ood:
        return "".join(out) + _para("Not set: this model does not say when a film is not a chest X-ray it knows.",
                                    theme.MUTED)
    from pneumonet_core.models.card import describe_guard

    out.append(_para(_e(describe_guard(ood))))
    rate = ood.get("fit_flag_rate")
    if rate is not None:
        out.append(_para(f"It flags {float(rate):.1%} of the films it was fitted on; a flagged film's result is "
                         "withheld.", theme.MUTED))
    from pneumonet_core.models.card import population_rates

    if population_rates(ood):
        out.append(_para(_e(population_rates(ood)), theme.MUTED))
    return "".join(out)


def runtime_section(card: ModelCard) -> str:
    """How this machine runs the model: the LiteRT graph and how the heat map is made."""
    from pneumonet_core.inference.litert_cache import describe

    found = describe(card.hash)
    return _section("Runtime") + _pairs([("LiteRT graph", _e(f"{found['variant']}, {found['graph']}")),
                                         ("Heat map", _e(found["heat_map"]))])


def data_section(card: ModelCard) -> str:
    data = card.data or {}
    summary = data.get("summary") or {}
    out = [_section("Data")]
    if not data:
        return "".join(out) + _para("No training data recorded.", theme.MUTED)
    # The folder's name only: the training machine's folders mean nothing here (and may name people).
    facts = [("Folder", f"<code>{_e(readable_value(data.get('folder', 'n/a')))}</code>")]
    for key, title in (("labels", "Labels"), ("seed", "Split seed"), ("validation_fraction", "Validation fraction"),
                       ("test_fraction", "Test fraction")):
        if key in summary:
            facts.append((title, _e(summary[key])))
    out.append(_pairs(facts))
    splits = [name for name in ("train", "validation", "test") if isinstance(summary.get(name), dict)]
    if splits:
        classes = sorted({c for name in splits for c in summary[name].get("per_class", {})})
        rows = [[_e(name), number(summary[name].get("images"), "int"), number(summary[name].get("patients"), "int")]
                + [number(summary[name].get("per_class", {}).get(c), "int") for c in classes] for name in splits]
        out.append(_para("Split by patient: no patient is in two splits.", theme.MUTED))
        out.append(_table(["Split", "Images", "Patients"] + classes, rows))
    return "".join(out)


def training_section(card: ModelCard) -> str:
    t = card.training or {}
    out = [_section("Training")]
    if not t:
        return "".join(out) + _para("No training record (an imported or hand-made model).", theme.MUTED)
    if t.get("command"):
        out.append(f'<p><code style="color:{theme.TEXT}">{_e(strip_folders(t["command"]))}</code></p>')
    rows = []
    labels = (("device", "Device"), ("backend", "Backend"), ("keras", "Keras"), ("precision", "Precision"),
              ("duration_s", "Duration"), ("epochs", "Epochs asked"), ("epochs_run", "Epochs run"),
              ("best_epoch", "Best epoch"), ("batch_size", "Batch size"), ("learning_rate", "Learning rate"),
              ("augment", "Augmentation"), ("seed", "Seed"))
    for key, title in labels:
        if key in t:
            value = f"{float(t[key]):.0f} s" if key == "duration_s" else readable_value(t[key])
            rows.append((title, _e(value)))
    options = t.get("options")
    if isinstance(options, dict):
        rows += [(f"Option {k}", _e(readable_value(v))) for k, v in options.items()]
    return "".join(out) + _pairs(rows)


def _signature_rows(card: ModelCard) -> list[tuple[str, str]]:
    """Whatever the card says about a signature (another part of Pneumonet adds signing)."""
    found = {k: v for k, v in card.to_dict().items() if "signature" in k.lower() or "signed" in k.lower()}
    if not found:
        return [("Signature", _e("not signed (no signature recorded in the card)"))]
    return [(k.replace("_", " ").capitalize(), _e(json.dumps(v) if isinstance(v, (dict, list)) else v))
            for k, v in found.items()]


def integrity_section(card: ModelCard) -> str:
    rows = [("Content hash", f"<code>sha256:{_e(card.hash or 'n/a')}</code>")] + _signature_rows(card)
    out = [_section("Integrity"), _pairs(rows)]
    if card.notes:
        out.append(_section("Notes"))
        out += [_para(_e(note)) for note in card.notes]
    return "".join(out)


def reliability_charts(card: ModelCard) -> list[tuple[str, str, dict, float | None]]:
    """The reliability curves a card stores: (key, title, curve, ECE), at most two, before then after."""
    external = card.external or {}
    found = [(key, title, external[key]["reliability"], external[key].get("ece"))
             for key, title in RELIABILITY_CHARTS
             if isinstance(external.get(key), dict) and (external[key].get("reliability") or {}).get("count")]
    return found[:2]


def card_html(card: ModelCard, path=None, banner=(), charts: list[tuple[str, str]] = (), extra: str = "") -> str:
    """The whole page; ``charts`` are (key, title) of the ``chart:<key>`` images, ``extra`` more sections."""
    body = (identity_section(card, path, banner) + intended_use_section(card) + figures_section(card) + extra
            + threshold_section(card)
            + calibration_section(card, list(charts)) + ood_section(card) + runtime_section(card) + data_section(card)
            + training_section(card) + integrity_section(card))
    return f'<div style="color:{theme.TEXT}">{body}</div>'


def measured_section(folder: str, figures: dict) -> str:
    """What "Measure on a folder…" found, as its own small section."""
    rows = [[_e(title), number(figures.get(key), kind)] for key, title, kind in FIGURE_ROWS if key in figures]
    return (_section(f"Measured now on {folder}") +
            _para("Not stored in the card: these figures are for this session only.", theme.MUTED) +
            _table(["Figure", "Value"], rows))
