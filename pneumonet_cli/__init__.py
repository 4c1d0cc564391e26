"""The ``pneumonet`` command line: one module per command (``*_cmd.py``), wired up in :mod:`.main`."""
