"""The packaged app's training part (pneumonet_core/runtime/training_part.py): found or said missing.

The frozen app is imitated (``sys.frozen``, ``sys.executable``, ``sys._MEIPASS``) around a
made-up module standing in for TensorFlow, so no PyInstaller build and no TensorFlow import
is needed; the real build is checked by tools/build_app.sh's self-tests (CI).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from pneumonet_core.errors import PneumonetError
from pneumonet_core.runtime import training_part

FAKE = "pneumonet_fake_tensorflow"


@pytest.fixture
def clean(monkeypatch):
    """Undo what activation does to the import system."""
    saved_path = list(sys.path)
    training_part.uninstall()
    yield
    training_part.uninstall()
    sys.path[:] = saved_path
    sys.modules.pop(FAKE, None)


@pytest.fixture
def frozen_app(tmp_path, monkeypatch, clean):
    """An imitation of dist/Pneumonet/ (build id "b1") with nothing beside it; returns dist/."""
    app = tmp_path / "dist" / "Pneumonet"
    (app / "_internal" / "resources").mkdir(parents=True)
    (app / "_internal" / "resources" / training_part.STAMP).write_text(json.dumps({"build": "b1"}))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "Pneumonet"))
    monkeypatch.setattr(sys, "_MEIPASS", str(app / "_internal"), raising=False)
    monkeypatch.delenv(training_part.PART_ENV, raising=False)
    monkeypatch.delenv("PNEUMONET_RUNTIME", raising=False)  # tests/conftest.py's; not a packaged app's
    monkeypatch.setattr(training_part, "bundles_tensorflow", lambda: False)  # the venv has TensorFlow
    monkeypatch.setattr(training_part, "TRIGGERS", frozenset({FAKE}))
    return tmp_path / "dist"


def make_part(folder, build="b1"):
    """A training part holding the stand-in for TensorFlow."""
    (folder / FAKE).mkdir(parents=True)
    (folder / FAKE / "__init__.py").write_text("WHERE = __file__\n")
    (folder / training_part.STAMP).write_text(json.dumps({"build": build}))
    return folder


def test_in_a_venv_nothing_changes(clean, monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    training_part.install()
    assert not any(isinstance(f, training_part._PartFinder) for f in sys.meta_path)
    assert training_part.problem("training") is None
    assert training_part.activate("training") is None
    assert training_part.active_part() is None


def test_without_the_part_one_line_says_what_is_missing_and_how_to_add_it(frozen_app):
    line = training_part.problem("training")
    assert line is not None and "\n" not in line
    assert line.startswith("training needs TensorFlow")
    assert "Pneumonet-training" in line and training_part.PART_ENV in line
    with pytest.raises(training_part.TrainingPartMissing) as raised:
        training_part.require("training")
    # Code that probes for TensorFlow sees "not installed"; the CLI prints a PneumonetError in one line.
    assert isinstance(raised.value, ModuleNotFoundError) and isinstance(raised.value, PneumonetError)
    assert str(raised.value) == line


def test_the_first_import_goes_through_the_finder_and_fails_cleanly_without_the_part(frozen_app):
    training_part.install()
    with pytest.raises(training_part.TrainingPartMissing, match="needs TensorFlow"):
        importlib.import_module(FAKE)
    assert FAKE not in sys.modules


def test_the_part_beside_the_app_is_put_on_sys_path_at_the_first_import(frozen_app):
    part = make_part(frozen_app / training_part.SIBLING_FOLDER)
    assert training_part.problem("training") is None
    assert str(part) not in sys.path  # not before something needs it
    # The app's standard-library extensions: the part's own ones go on sys.path too.
    app_dynload = frozen_app / "Pneumonet" / "_internal" / "python3.11" / "lib-dynload"
    sys.path.append(str(app_dynload))
    (part / "python3.11" / "lib-dynload").mkdir(parents=True)
    training_part.install()
    module = importlib.import_module(FAKE)
    assert module.WHERE.startswith(str(part))
    assert training_part.active_part() == part
    # After the app's own paths: the app's modules come first.
    assert sys.path[-2:] == [str(part), str(part / "python3.11" / "lib-dynload")]


def test_inside_the_app_comes_first_and_the_variable_overrides_both(frozen_app, tmp_path, monkeypatch):
    inside = make_part(frozen_app / "Pneumonet" / training_part.PART_FOLDER)
    make_part(frozen_app / training_part.SIBLING_FOLDER)
    assert training_part.find_part() == (inside, None)
    monkeypatch.setenv(training_part.PART_ENV, str(tmp_path / "nowhere"))
    assert training_part.find_part() == (None, None)
    assert training_part.problem("--runtime tensorflow").startswith("--runtime tensorflow needs TensorFlow")
    named = make_part(tmp_path / "elsewhere")
    monkeypatch.setenv(training_part.PART_ENV, str(named))
    assert training_part.activate("training") == named


def test_info_says_where_tensorflow_comes_from_in_the_packaged_app_only(frozen_app, tmp_path, capsys, monkeypatch):
    from pneumonet_cli.main import main

    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path / "home"))
    model = ["--model", str(Path(__file__).resolve().parents[1] / "resources" / "models" / "pneumonet-cnn.pneumonet")]
    assert main(["info", *model]) == 0
    assert "TensorFlow:   not in this reading-room install: copy the Pneumonet-training" in capsys.readouterr().out
    part = make_part(frozen_app / training_part.SIBLING_FOLDER)
    assert main(["info", "--json", *model]) == 0
    assert json.loads(capsys.readouterr().out)["tensorflow"].startswith(f"the training part in {part}")
    monkeypatch.delattr(sys, "frozen")
    assert main(["info", "--json", *model]) == 0
    assert "tensorflow" not in json.loads(capsys.readouterr().out)


def test_a_part_from_another_build_is_refused(frozen_app):
    make_part(frozen_app / training_part.SIBLING_FOLDER, build="b2")
    line = training_part.problem("training")
    assert "another Pneumonet build" in line and "b2" in line and "b1" in line
    with pytest.raises(training_part.TrainingPartMissing, match="another Pneumonet build"):
        training_part.activate("training")


def test_cli_commands_that_need_tensorflow_say_so_in_one_line(frozen_app, tmp_path, capsys, monkeypatch):
    from pneumonet_cli.main import EXIT_FAILED, main

    monkeypatch.setenv("PNEUMONET_HOME", str(tmp_path / "home"))
    assert main(["classify", "--runtime", "tensorflow", str(tmp_path / "none.png")]) == EXIT_FAILED
    err = capsys.readouterr().err.strip()
    assert err.startswith("pneumonet: error: --runtime tensorflow needs TensorFlow") and "\n" not in err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "m.pneumonet"), "--approach", "cnn"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip()
    assert err.startswith("pneumonet: error: training needs TensorFlow") and "\n" not in err


def test_the_wizard_says_so_in_the_banner_and_opens_nothing(frozen_app):
    from pneumonet_gui.wizard import open_training_wizard

    class Banner:
        lines: list = []

        def set_lines(self, lines):
            Banner.lines = list(lines)

    class Window:
        info_banner = Banner()

    assert open_training_wizard(Window()) is None
    assert len(Banner.lines) == 1 and Banner.lines[0].startswith("the training wizard needs TensorFlow")
