"""A guard against a PySide6 6.12 defect on CPython 3.10 and 3.11.

Its bindings of C++ methods that return nothing hand back ``None`` without taking a
reference: Python 3.12 made ``None`` immortal and that is what they assume. On older
Pythons every such call (``update()``, ``setText()``...) lowers ``None``'s count by one,
so a long session, or a long test run, ends in "Fatal Python error: none_dealloc". The
guard runs only on the combinations that have the defect (:func:`needed`: CPython before
3.12 with a PySide6 in :data:`AFFECTED_PYSIDE`), checks for it there with a few harmless
calls and, where it is present, gives ``None``, ``True`` and ``False`` a count no session
can use up, as 3.12 does. ``tests/test_refcount_guard.py`` shows the defect.
"""

from __future__ import annotations

import ctypes
import sys

#: Large enough for years of calls, small enough never to overflow a 64-bit count.
_HEADROOM = 1 << 40
#: PySide6 releases (major, minor) whose void bindings assume Python 3.12's immortal None.
AFFECTED_PYSIDE = ((6, 12),)
_applied = False


def needed(python: tuple = tuple(sys.version_info), pyside: tuple | None = None,
           implementation: str = sys.implementation.name) -> bool:
    """True for the interpreter and PySide6 versions that may have the defect."""
    if pyside is None:
        import PySide6

        pyside = tuple(PySide6.__version_info__)
    return implementation == "cpython" and tuple(python[:2]) < (3, 12) and tuple(pyside[:2]) in AFFECTED_PYSIDE


def leaks_none() -> bool:
    """True when a void PySide6 call drops a reference to ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= 32


def install() -> bool:
    """Apply the guard once if this interpreter needs it; True when it was applied."""
    global _applied
    if _applied or not needed() or not leaks_none():
        return _applied
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _HEADROOM
    _applied = True
    return True
