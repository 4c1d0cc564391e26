"""``pneumonet gui``: start the desktop app (optionally on a file, or as a scripted screenshot)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="start the desktop app",
                              description="Open the Pneumonet viewer, optionally on FILE.")
    p.add_argument("file", nargs="?", type=Path)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--screenshot", type=Path, metavar="OUT.png",
                   help="open FILE, wait for the result and heat map, save a screenshot of the window, exit")
    p.add_argument("--selftest", action="store_true",
                   help="load the model, classify an image made on the fly, exit 0 when it works")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_gui.app import run_app

    return run_app(file=args.file, model=args.model, screenshot=args.screenshot, selftest=args.selftest)
