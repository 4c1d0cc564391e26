"""``pneumonet gui``: start the desktop app (optionally on a file, or as a scripted screenshot).

The system libraries Qt needs are checked first (:mod:`pneumonet_core.system_check`), so
a machine without them gets one line naming the packages instead of Qt's abort.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pneumonet_cli.common import add_signature_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="start the desktop app",
                              description="Open the Pneumonet viewer, optionally on FILE.")
    p.add_argument("file", nargs="?", type=Path)
    p.add_argument("--model", type=Path, default=None)
    add_signature_argument(p)
    p.add_argument("--screenshot", type=Path, metavar="OUT.png",
                   help="open FILE, wait for the result and heat map, save a screenshot of the window, exit")
    p.add_argument("--selftest", action="store_true",
                   help="load the model, classify an image made on the fly, exit 0 when it works")
    p.add_argument("--training", action="store_true",
                   help="with --selftest: then load the model with TensorFlow too (in the packaged app, "
                        "from its training part) and explain the image with it")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.system_check import gui_problem

    problem = gui_problem()
    if problem:
        print(f"pneumonet gui: {problem}", file=sys.stderr)
        return 1
    if args.model is None:
        from pneumonet_cli.common import resolve_model
        from pneumonet_core.errors import PneumonetError

        try:
            resolve_model(None)  # says on stderr when a deleted active model falls back to the default
        except PneumonetError:
            pass  # the app reports a missing model in its own window
    from pneumonet_gui.app import run_app

    if args.training and not args.selftest:
        print("pneumonet gui: --training goes with --selftest", file=sys.stderr)
        return 2
    return run_app(file=args.file, model=args.model, screenshot=args.screenshot, selftest=args.selftest,
                   training=args.training)
