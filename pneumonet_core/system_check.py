"""Before the app starts: are the system libraries Qt's X11 (xcb) platform needs present?

Without them Qt aborts with a message about the "xcb" plugin that names no package. This
check loads each library the way Qt would (``ctypes``, no Qt import), and when some are
missing says in one line which Debian/Ubuntu packages provide them and the command that
installs them. It only runs when Qt would use xcb: on Linux, with ``DISPLAY`` set and no
other ``QT_QPA_PLATFORM`` (offscreen, wayland...) chosen.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: Libraries Qt 6's xcb platform plugin loads, and the package that provides each.
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
#: Platforms that do not go through xcb.
_OTHER_PLATFORMS = ("offscreen", "minimal", "wayland", "wayland-egl", "eglfs", "linuxfb", "vnc", "vkkhrdisplay",
                    "cocoa", "windows")


def library_loads(soname: str) -> bool:
    """True when the dynamic loader can load ``soname``."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_packages(probe: Callable[[str], bool] | None = None) -> list[str]:
    """The packages whose xcb libraries do not load, in a stable order."""
    probe = probe or library_loads
    return sorted({package for soname, package in XCB_LIBRARIES.items() if not probe(soname)})


def gui_problem(environ: Mapping[str, str] | None = None, probe: Callable[[str], bool] | None = None,
                platform: str | None = None) -> str | None:
    """One line saying why the app cannot open a window here, or None when it should.

    ``probe`` (default :func:`library_loads`) and ``platform`` are there for tests.
    """
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen in _OTHER_PLATFORMS or (not chosen and environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY")):
        return None
    if not environ.get("DISPLAY"):
        return ("no display to open a window on (DISPLAY is not set): run it in a desktop session, or use the "
                "command line (pneumonet classify ...), or QT_QPA_PLATFORM=offscreen for scripted use")
    missing = missing_packages(probe)
    if not missing:
        return None
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    return (f"the app needs system libraries that are missing ({', '.join(missing)}); install them with: "
            f"{sudo}apt-get install -y {' '.join(missing)}")
