"""Entry point of the ``pneumonet`` command: builds the parser from the command modules.

Exit codes: 0 ok, 2 usage error, 3 some inputs failed but the others were done,
1 the command itself failed (message on one line, no traceback; also a folder with no
scan in it), 130 interrupted
(SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from pneumonet_core import __version__
from pneumonet_core.errors import PneumonetError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: Command modules; each has ``register(subparsers)`` that adds its parser and sets
#: ``func(args) -> int`` as the parser default.
COMMAND_MODULES = (
    "pneumonet_cli.classify_cmd",
    "pneumonet_cli.evaluate_cmd",
    "pneumonet_cli.calibrate_cmd",
    "pneumonet_cli.guard_cmd",
    "pneumonet_cli.train_cmd",
    "pneumonet_cli.ensemble_cmd",
    "pneumonet_cli.info_cmd",
    "pneumonet_cli.scan_info_cmd",
    "pneumonet_cli.models_cmd",
    "pneumonet_cli.gui_cmd",
    "pneumonet_cli.listen_cmd",
    "pneumonet_cli.pull_cmd",
    "pneumonet_cli.sign_cmd",
    "pneumonet_cli.keygen_cmd",
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
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log messages (TensorFlow, Keras) on stderr")
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
    from pneumonet_core import quiet
    from pneumonet_core.settings import load_settings

    quiet.configure(verbose=args.verbose)
    for stream in (sys.stdout, sys.stderr):  # a file name with undecodable bytes never stops a run
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    from pneumonet_core.imaging.limits import return_large_buffers_to_the_system

    return_large_buffers_to_the_system()
    if problem := load_settings().problem_line():
        print(f"pneumonet: warning: {problem}", file=sys.stderr)
    # Options that hold for every model this run loads, however (Ray's actors included),
    # travel as environment variables, restored afterwards.
    chosen = {"PNEUMONET_REQUIRE_SIGNATURE": "1" if getattr(args, "require_signature", False) else None,
              "PNEUMONET_RUNTIME": getattr(args, "runtime", None),
              "PNEUMONET_SUBTYPE_MODEL": getattr(args, "subtype_model", None)}
    saved = {name: os.environ.get(name) for name in chosen}
    for name, value in chosen.items():
        if value is not None:
            os.environ[name] = str(value)
    try:
        if os.environ.get("PNEUMONET_RUNTIME") == "tensorflow":
            from pneumonet_core.runtime import training_part

            training_part.require("--runtime tensorflow")  # the packaged app: one line when TensorFlow is left out
        return int(args.func(args))
    except PneumonetError as exc:
        print(f"pneumonet: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("pneumonet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def entry_point() -> None:
    """Console-script entry point."""
    code = main()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # A stop must not wait for decoding threads still finishing a file: the outputs
        # are written and flushed by now, so leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def app_entry_point() -> None:
    """The desktop app's entry: ``pneumonet-gui`` and the frozen app (see ``frozen_app.py``).

    ``[FILE] [--model M] [--screenshot OUT] [--selftest]`` open the viewer as ``pneumonet gui``
    does; arguments that name a ``pneumonet`` command run it, so ``Pneumonet classify
    scan.dcm`` works in a built app as ``pneumonet classify`` does.
    """
    argv = [a for a in sys.argv[1:] if not a.startswith("-psn_")]  # macOS Finder adds -psn_X_Y
    commands = set()
    for action in build_parser()._actions:  # argparse keeps its sub-commands here
        if isinstance(action.choices, dict):
            commands.update(action.choices)
    if argv and (argv[0] in ("--version", "-h", "--help") or (argv[0] in commands and not Path(argv[0]).exists())):
        sys.exit(main(argv))
    sys.exit(main(["gui", *argv]))


if __name__ == "__main__":
    entry_point()
