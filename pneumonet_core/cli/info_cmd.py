"""``pneumonet info``: print a model's card."""

from __future__ import annotations

from pneumonet_core.cli.common import add_model_argument, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="show a model's card (default: the active model)",
                              description="Print the model card: approach, data, threshold, held-out metrics, hash.")
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")
    p.add_argument("--verify", action="store_true", help="also load the weights and check the content hash")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.models.package import load_package, read_card
    from pneumonet_core.models.registry import active_model_path

    path = args.model or active_model_path()
    card = load_package(path).card if args.verify else read_card(path)
    if args.json:
        write_json({"path": str(path), **card.to_dict()})
    else:
        print(f"File:         {path}")
        print("\n".join(card.summary_lines()))
        if args.verify:
            print("Verified:     content hash matches")
    return 0
