"""``python -m pneumonet_gui`` and the frozen app's entry point."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from pneumonet_gui.app import entry_point

    entry_point()
