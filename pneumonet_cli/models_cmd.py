"""``pneumonet models``: list installed models, choose the active one, delete a user model."""

from __future__ import annotations

import sys
from pathlib import Path

from pneumonet_cli.common import add_signature_argument, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list installed models and choose the active one",
                              description="List bundled and user models; 'use FILE' makes a model active "
                              "for the CLI and the app; 'use default' goes back to the bundled default; "
                              "'subtype FILE' chooses the bacterial/viral model ('subtype default' the bundled "
                              "one, 'subtype none' turns the opinion off).")
    p.add_argument("action", nargs="?", default="list", choices=("list", "use", "install", "delete", "subtype"))
    p.add_argument("path", nargs="?", help="model file (for use/install/delete/subtype), or 'default' with use "
                   "and subtype, or 'none' with subtype")
    p.add_argument("--json", action="store_true")
    add_signature_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.models import registry
    from pneumonet_core.models.signing import require_trusted

    if args.action in ("use", "install", "delete", "subtype") and not args.path:
        print(f"pneumonet models {args.action}: a model file is needed", file=sys.stderr)
        return 2
    if args.action in ("use", "install", "subtype") and args.path not in ("default", "none"):
        require_trusted(Path(args.path))  # when signatures are required, refuse before installing
    if args.action == "use":
        registry.set_active_model(None if args.path == "default" else Path(args.path))
    elif args.action == "install":
        print(f"installed {registry.install_user_model(Path(args.path))}")
    elif args.action == "subtype":
        registry.set_subtype_model(None if args.path == "default" else args.path)
    elif args.action == "delete":
        registry.delete_user_model(Path(args.path))
    from pneumonet_core.inference.subtype import chosen_subtype_path
    from pneumonet_core.models import figures

    installed = registry.installed_models()
    # Pneumonia models ranked by ROC-AUC on independent patients; bacterial/viral models apart.
    models = figures.ranked([m for m in installed if not m.card.is_subtype])
    chosen = chosen_subtype_path()
    subtypes = [m for m in installed if m.card.is_subtype]
    if args.json:
        def entry(m, active):
            return {"path": str(m.path), "bundled": m.bundled, "active": active, "name": m.card.name,
                    "approach": m.card.approach, "hash": m.card.hash,
                    "independent": figures.block_of(figures.independent(m.card)), "metrics": m.card.metrics}

        write_json({"models": [entry(m, m.active) for m in models],
                    "subtype_models": [entry(m, chosen is not None and m.path.resolve() == chosen.resolve())
                                       for m in subtypes]})
        return 0
    print("  ranked by ROC-AUC on independent patients (cross-fitted where calibrated on them); "
          "held-out = split of the training data set")
    for m in models:
        mark = "*" if m.active else " "
        kind = "bundled" if m.bundled else "user"
        print(f"{mark} {m.card.name:40s} {m.card.approach:9s} {kind:7s} {figures.list_text(m.card)}  {m.path}")
    if subtypes:
        print("  bacterial/viral models (an opinion on PNEUMONIA decisions; * = in use):")
        for m in subtypes:
            mark = "*" if chosen is not None and m.path.resolve() == chosen.resolve() else " "
            kind = "bundled" if m.bundled else "user"
            print(f"{mark} {m.card.name:40s} {m.card.approach:9s} {kind:7s} {figures.list_text(m.card)}  {m.path}")
    if chosen is None:
        print("  bacterial/viral opinion: off")
    return 0
