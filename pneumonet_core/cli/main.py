"""Entry point of the ``pneumonet`` command: builds the parser from the command modules.

Exit codes: 0 ok, 2 usage error, 3 some inputs failed but the others were done,
1 the command itself failed (message on one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from pneumonet_core import __version__
from pneumonet_core.errors import PneumonetError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3

#: Command modules; each has ``register(subparsers)`` that adds its parser and sets
#: ``func(args) -> int`` as the parser default.
COMMAND_MODULES = (
    "pneumonet_core.cli.classify_cmd",
    "pneumonet_core.cli.evaluate_cmd",
    "pneumonet_core.cli.calibrate_cmd",
    "pneumonet_core.cli.guard_cmd",
    "pneumonet_core.cli.train_cmd",
    "pneumonet_core.cli.info_cmd",
    "pneumonet_core.cli.scan_info_cmd",
    "pneumonet_core.cli.models_cmd",
    "pneumonet_core.cli.gui_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the full ``pneumonet`` parser with every subcommand registered."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="pneumonet",
        description="Pneumonia decision support for chest X-rays (PNG, JPEG, DICOM). "
        "Decision support for a clinician, not a diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"pneumonet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except PneumonetError as exc:
        print(f"pneumonet: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("pneumonet: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
