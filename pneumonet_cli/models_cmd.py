"""``pneumonet models``: list installed models, choose the active one, delete a user model."""

from __future__ import annotations

import sys
from pathlib import Path

from pneumonet_cli.common import add_signature_argument, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list installed models and choose the active one",
                              description="List bundled and user models; 'use FILE' makes a model active "
                              "for the CLI and the app; 'use default' goes back to the bundled default.")
    p.add_argument("action", nargs="?", default="list", choices=("list", "use", "install", "delete"))
    p.add_argument("path", nargs="?", help="model file (for use/install/delete), or 'default' with use")
    p.add_argument("--json", action="store_true")
    add_signature_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.models import registry
    from pneumonet_core.models.signing import require_trusted

    if args.action in ("use", "install", "delete") and not args.path:
        print(f"pneumonet models {args.action}: a model file is needed", file=sys.stderr)
        return 2
    if args.action in ("use", "install") and args.path != "default":
        require_trusted(Path(args.path))  # when signatures are required, refuse before installing
    if args.action == "use":
        registry.set_active_model(None if args.path == "default" else Path(args.path))
    elif args.action == "install":
        print(f"installed {registry.install_user_model(Path(args.path))}")
    elif args.action == "delete":
        registry.delete_user_model(Path(args.path))
    from pneumonet_core.models import figures

    models = figures.ranked(registry.installed_models())  # by ROC-AUC on independent patients
    if args.json:
        write_json({"models": [{"path": str(m.path), "bundled": m.bundled, "active": m.active, "name": m.card.name,
                                "approach": m.card.approach, "hash": m.card.hash,
                                "independent": figures.block_of(figures.independent(m.card)),
                                "metrics": m.card.metrics} for m in models]})
        return 0
    print("  ranked by ROC-AUC on independent patients (cross-fitted where calibrated on them); "
          "held-out = split of the training data set")
    for m in models:
        mark = "*" if m.active else " "
        kind = "bundled" if m.bundled else "user"
        print(f"{mark} {m.card.name:40s} {m.card.approach:9s} {kind:7s} {figures.list_text(m.card)}  {m.path}")
    return 0
