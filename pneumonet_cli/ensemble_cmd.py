"""``pneumonet ensemble``: several models of one recipe and split as one package."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from pneumonet_cli.common import add_signature_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ensemble", help="combine models trained on one patient split into one package (their mean)",
        description="Average the outputs of MODELs trained with the same recipe and patient split "
        "(pneumonet train --split-seed S --seed N), choose the threshold on their validation patients and measure "
        "their held-out test patients, both read from DIR (the training folder).",
    )
    p.add_argument("models", nargs="+", type=Path, metavar="MODEL")
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="the folder the members were trained on")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--name", default=None, help="model name for the card")
    add_signature_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.training.ensembling import ensemble_packages

    if len(args.models) < 2:
        print("pneumonet ensemble: at least two models are needed", file=sys.stderr)
        return 2
    command = "pneumonet " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if len(sys.argv) > 1 else ""
    card = ensemble_packages(args.models, args.data, args.out, args.name, command)
    m = card.metrics
    print(f"saved {args.out}: mean of {len(args.models)} models (hash {card.short_hash})")
    if m:
        print(f"held-out test patients: n={m['n']} AUC={m['roc_auc']:.4f} accuracy={m['accuracy']:.4f} "
              f"sensitivity={m['sensitivity']:.4f} specificity={m['specificity']:.4f} at threshold {card.threshold:.4f}")
    return 0
