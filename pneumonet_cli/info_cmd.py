"""``pneumonet info``: a model's card as a readable summary (``--json`` for the whole card).

Paths recorded in a card (the training folder, the output file of the training command)
belong to the machine that trained it, so they are shown as bare names; a bundled model
is named as such rather than by the folder Pneumonet is installed in.
"""

from __future__ import annotations

from pathlib import Path

from pneumonet_cli.common import add_model_argument, resolve_model, write_json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="show a model's card (default: the active model)",
                              description="Print the model card: approach, data, threshold, held-out metrics, "
                              "signature and hash. --json prints the whole card as JSON instead.")
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")
    p.add_argument("--verify", action="store_true", help="also load the weights and check the content hash")
    p.set_defaults(func=run)


def shown_path(path: Path) -> str:
    """How ``info`` names a model file: bundled ones by name, others as given."""
    from pneumonet_core.models.registry import bundled_models_dir

    try:
        if Path(path).resolve().parent == bundled_models_dir().resolve():
            return f"{Path(path).name} (bundled with Pneumonet)"
    except OSError:
        pass
    return str(path)


def run(args) -> int:
    from pneumonet_core.models.card import strip_folders
    from pneumonet_core.models.package import load_package
    from pneumonet_core.models.signing import package_signature_status, require_trusted

    path = resolve_model(args.model)
    signature = package_signature_status(path)  # verifies the manifest and content hash
    require_trusted(path)  # refused here too when signatures are required
    card = load_package(path).card if args.verify else None
    if card is None:
        from pneumonet_core.models.package import read_card

        card = read_card(path)
    from pneumonet_core.inference.litert_cache import describe

    runtime = describe(card.hash)
    opinion = subtype_in_use(card)
    from pneumonet_core.runtime.training_part import status

    tensorflow = status()  # the packaged app only: its training part, found or not
    if args.json:
        data = card.to_dict()
        data["data"] = {k: v for k, v in data.get("data", {}).items() if k != "folder"}
        if isinstance(data.get("training", {}).get("command"), str):
            data["training"]["command"] = strip_folders(data["training"]["command"])
        write_json({"path": shown_path(path), "signature": {"state": signature.state, "text": signature.text,
                                                            "key_id": signature.key_id}, **data,
                    "runtime": runtime, "subtype_model": opinion,
                    **({"tensorflow": tensorflow} if tensorflow else {})})
        return 0
    print("\n".join(card.summary_lines()))
    print(f"File:         {shown_path(path)}")
    print(f"Signature:    {signature.text}")
    print(f"Runtime:      LiteRT {runtime['variant']} graph: {runtime['graph']}; heat map: {runtime['heat_map']}")
    if opinion is not None:
        print(f"Bacterial/viral: {opinion['text']}")
    if tensorflow:
        print(f"TensorFlow:   {tensorflow}")
    if args.verify:
        print("Verified:     weights load and the content hash matches")
    return 0


def subtype_in_use(card) -> dict | None:
    """The bacterial/viral model a pneumonia model gets (None for a model that is not one)."""
    if not card.gets_subtype_opinion:
        return None
    from pneumonet_core.errors import PneumonetError
    from pneumonet_core.inference.subtype import chosen_subtype_path
    from pneumonet_core.models.archive import read_card

    path = chosen_subtype_path()
    if path is None:
        return {"path": None, "text": "off (pneumonet models subtype FILE turns it on)"}
    try:
        sub = read_card(path)
    except PneumonetError as exc:
        return {"path": str(path), "text": f"unusable: {exc}"}
    return {"path": shown_path(path), "name": sub.name, "hash": sub.hash,
            "text": f"{shown_path(path)}, threshold {sub.threshold:.4f}, " + (
                f"undetermined from {sub.uncertain_band[0]:.2f} to {sub.uncertain_band[1]:.2f}"
                if sub.uncertain_band else "no undetermined band")}
