"""A first run that just works (issue 12): the app names the missing system libraries in one
line, TensorFlow's start-up chatter stays off stderr unless --verbose, info is readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from tests.helpers import SHARED_TRAIN

ROOT = Path(__file__).resolve().parents[1]
JPEG = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[0]


def test_gui_problem_names_the_missing_packages_and_the_command():
    from pneumonet_core.system_check import gui_problem

    missing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
    probe = lambda soname: soname not in missing  # noqa: E731 - a machine without two of them
    problem = gui_problem({"DISPLAY": ":0"}, probe=probe, platform="linux")
    assert problem.count("\n") == 0
    assert "libxcb-cursor0" in problem and "libxcb-icccm4" in problem
    assert "apt-get install -y libxcb-cursor0 libxcb-icccm4" in problem
    # Nothing to check off X11, headless (offscreen), or on other systems; no display is said plainly.
    assert gui_problem({"DISPLAY": ":0"}, probe=lambda s: True, platform="linux") is None
    assert gui_problem({"QT_QPA_PLATFORM": "offscreen"}, probe=probe, platform="linux") is None
    assert gui_problem({"WAYLAND_DISPLAY": "wayland-0"}, probe=probe, platform="linux") is None
    assert gui_problem({"DISPLAY": ":0"}, probe=probe, platform="darwin") is None
    assert "DISPLAY is not set" in gui_problem({}, probe=probe, platform="linux")


def test_pneumonet_gui_exits_1_with_one_line_before_qt_starts(monkeypatch, capsys):
    import pneumonet_core.system_check as check

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(check, "library_loads", lambda soname: soname != "libxkbcommon-x11.so.0")
    monkeypatch.setattr(check.sys, "platform", "linux")
    imported = "pneumonet_gui.app" in sys.modules
    assert main(["gui"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("pneumonet gui: ") and "libxkbcommon-x11-0" in err
    assert ("pneumonet_gui.app" in sys.modules) == imported  # Qt was never reached


def test_the_library_list_matches_the_install_script():
    from pneumonet_core.system_check import XCB_LIBRARIES

    script = (ROOT / "tools" / "install.sh").read_text()
    for soname, package in XCB_LIBRARIES.items():
        assert f'"{soname} {package}"' in script


def _run(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PNEUMONET_VERBOSE")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "pneumonet_cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=300)


# starts a process of 0.8-1.3 GB: in tools/test.sh's first phase, with no xdist worker beside it;
# in a child pytest there, beside other children (pytest itself loads no TensorFlow here)
@pytest.mark.own_process("first-run-noise", gb=1.0)
def test_no_library_noise_on_stderr_unless_verbose():
    cnn = str(ROOT / "resources" / "models" / "pneumonet-cnn.pneumonet")
    quiet = _run("classify", str(JPEG), "--model", cnn)
    assert quiet.returncode == 0
    assert quiet.stderr.splitlines() == [line for line in quiet.stderr.splitlines() if line.startswith("pneumonet")]
    assert "absl" not in quiet.stderr and "oneDNN" not in quiet.stderr
    loud = _run("--verbose", "classify", str(JPEG), "--model", cnn)
    assert loud.returncode == 0 and ("oneDNN" in loud.stderr or "absl" in loud.stderr or "cpu_feature" in loud.stderr)


def test_info_is_a_readable_summary_without_developer_paths(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert not out.lstrip().startswith("{") and "Held-out:" in out and "Signature:" in out
    assert "/root/" not in out and "/work/" not in out and ".devdata" not in out
    assert main(["info", "--json"]) == 0
    import json

    card = json.loads(capsys.readouterr().out)
    assert "/root/" not in json.dumps(card) and "folder" not in card["data"]
