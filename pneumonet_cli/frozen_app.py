"""The script PyInstaller freezes into the Pneumonet app (``build.spec``): the viewer, or
any ``pneumonet`` command when the arguments name one (:func:`app_entry_point`)."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from pneumonet_cli.main import app_entry_point

    app_entry_point()
