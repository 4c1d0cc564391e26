"""Why pneumonet_gui adjusts None's reference count on import, and that it does so only
where PySide6 has the defect (see pneumonet_gui.refcount_guard)."""

from __future__ import annotations

import sys

import pytest

from pneumonet_gui import refcount_guard


def test_the_guard_is_confined_to_cpython_before_3_12_with_an_affected_pyside6():
    assert refcount_guard.needed((3, 11, 7), (6, 12, 0), "cpython")
    assert not refcount_guard.needed((3, 12, 1), (6, 12, 0), "cpython")  # None is immortal from 3.12 on
    assert not refcount_guard.needed((3, 11, 7), (6, 11, 2), "cpython")  # a release without the defect
    assert not refcount_guard.needed((3, 11, 7), (6, 12, 0), "pypy")


@pytest.mark.skipif(not refcount_guard.needed(), reason="this Python and PySide6 do not have the defect")
def test_why_a_void_pyside6_call_drops_a_reference_to_none_and_the_guard_gives_it_headroom():
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")  # returns nothing: hands back None without a reference
    assert before - sys.getrefcount(None) >= 900, "the defect is gone: narrow AFFECTED_PYSIDE"
    # Importing pneumonet_gui applied the guard: None's count is far above what a session uses.
    assert refcount_guard.install() and sys.getrefcount(None) > 1 << 39


def test_where_it_is_not_needed_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(refcount_guard, "_applied", False)
    monkeypatch.setattr(refcount_guard, "AFFECTED_PYSIDE", ())
    before = sys.getrefcount(None)
    assert refcount_guard.install() is False
    assert abs(sys.getrefcount(None) - before) < 1 << 20
