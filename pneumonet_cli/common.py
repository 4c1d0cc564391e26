"""Helpers shared by the command modules: model loading and one-line result printing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pneumonet_core.printable import printable
from pneumonet_core.results import WITHHELD_MESSAGE, ScanResult


def add_model_argument(parser) -> None:
    parser.add_argument("--model", type=Path, default=None, help="model package (.pneumonet); default: the active model")
    add_signature_argument(parser)
    parser.add_argument("--runtime", choices=("litert", "tensorflow"), default=None,
                        help="what runs the model: litert (default; no TensorFlow, a graph derived once per model "
                        "and cached) or tensorflow (the Keras model; --precision bfloat16 implies it)")
    parser.add_argument("--subtype-model", default=None, metavar="FILE|none",
                        help="the bacterial/viral model that gives its opinion on PNEUMONIA decisions "
                        "(default: the subtype_model setting, else the bundled one; none: no opinion)")


def add_signature_argument(parser) -> None:
    parser.add_argument("--require-signature", action="store_true",
                        help="refuse models without a signature by a trusted key (as PNEUMONET_REQUIRE_SIGNATURE=1 "
                        "or require_signature in settings.json)")


def resolve_model(model_path: Path | None) -> Path:
    """The named model, else the active one; says on stderr when a deleted choice fell back."""
    if model_path is not None:
        return Path(model_path)
    from pneumonet_core.models.registry import active_model

    active = active_model()
    if active.fallback_reason:
        print(f"pneumonet: warning: {active.fallback_reason}", file=sys.stderr)
    return active.path



def add_derived_package_arguments(parser, model_help: str, out_help: str) -> None:
    """DIR, --model IN and --out OUT of a command that writes a new package made from an existing one."""
    parser.add_argument("data_dir", type=Path, metavar="DIR")
    parser.add_argument("--model", type=Path, required=True, metavar="IN", help=model_help)
    parser.add_argument("--out", type=Path, required=True, metavar="OUT", help=out_help)
    add_signature_argument(parser)


def load_classifier(model_path: Path | None, precision: str = "float32", allow_subtype: bool = False):
    """Load the named or active model, or raise a one-line ModelPackageError.

    A bacterial/viral model answers a question about pneumonia films only: it is refused
    as the model that decides pneumonia, except where it is measured (``allow_subtype``).
    """
    from pneumonet_core.errors import ModelPackageError
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.inference.subtype import is_subtype_card

    path = resolve_model(model_path)
    classifier = Classifier.load(path, precision=precision)
    if is_subtype_card(classifier.card) and not allow_subtype:
        raise ModelPackageError(path, "is a bacterial/viral model: it gives its opinion after a pneumonia model "
                                      "(--subtype-model), it does not decide pneumonia")
    return classifier


def model_summary(classifier) -> dict:
    """The model block of JSON outputs."""
    from pneumonet_core.reports.tables import model_block

    return model_block(classifier.card, classifier.package.path)


def result_line(result: ScanResult) -> str:
    """One line per scan for the terminal: always one (see :mod:`pneumonet_core.printable`)."""
    return printable(_result_line(result))


def _result_line(result: ScanResult) -> str:
    if result.error:
        return f"{result.path}: ERROR: {result.error}"
    warn = f"  [{'; '.join(result.warnings)}]" if result.warnings else ""
    if result.withheld:
        return f"{result.path}: {WITHHELD_MESSAGE} ({result.ood_reason}; ood score {result.ood_score:.2f}){warn}"
    opinion = f"; {result.subtype_text}" if result.subtype_text else ""
    return f"{result.path}: {result.label} p={result.probability:.4f} (threshold {result.threshold:.4f}){opinion}{warn}"


def write_json(document: dict, stream=None) -> None:
    json.dump(document, stream or sys.stdout, indent=2, default=str)
    (stream or sys.stdout).write("\n")
