"""How the wizard runs ``pneumonet train``: the program to start and the line to show.

The pages fill a :class:`~pneumonet_core.training.config.TrainConfig`, whose
:func:`~pneumonet_core.training.config.to_arguments` gives the arguments, so the wizard
adds no training logic of its own and a user can rerun the same command in a terminal.
"""

from __future__ import annotations

import shlex
import sys


def python_command(arguments: list[str]) -> tuple[str, list[str]]:
    """(program, arguments) that run the ``pneumonet`` CLI with this very Python interpreter.

    A frozen app (PyInstaller) has no interpreter to pass ``-m`` to; its executable runs
    ``pneumonet`` commands itself (see ``pneumonet_gui.app.entry_point``).
    """
    if getattr(sys, "frozen", False):
        return sys.executable, list(arguments)
    return sys.executable, ["-m", "pneumonet_core.cli.main", *arguments]


def shell_line(arguments: list[str]) -> str:
    """The command as a user would type it, for the log."""
    return "pneumonet " + " ".join(shlex.quote(a) for a in arguments)
