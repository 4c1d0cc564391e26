"""Fixtures shared by the test modules: the training data and a DICOM maker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The suite's tests each get a fresh home, where LiteRT (the default runtime) would derive
# every model's graph again: they run the TensorFlow path, which gives the same answers
# (tests/test_litert_runtime.py checks LiteRT itself). PNEUMONET_RUNTIME=litert pytest ...
# runs them on LiteRT.
os.environ.setdefault("PNEUMONET_RUNTIME", "tensorflow")
# The bacterial/viral opinion is off unless a test asks for it (tests/test_subtype.py, the
# bundled model's tests): most tests check the pneumonia decision alone, and loading the
# subtype model in each of them would only add seconds.
os.environ.setdefault("PNEUMONET_SUBTYPE_MODEL", "none")
from tests.dicom_factory import make_dicom_from_image as _make_dicom_from_image
from tests.worker_home import worker_home

# Under pytest-xdist each worker gets a home of its own (tests/worker_home.py).
if (_home := worker_home(os.environ)) is not None:
    os.environ["PNEUMONET_HOME"] = _home


def pytest_configure(config) -> None:
    """Tests marked own_process run in a child pytest (tests/own_process.py);
    PNEUMONET_TEST_MEMORY=file.csv: a row of memory figures per test (tests/memory_probe.py)."""
    from tests import own_process

    own_process.register(config)
    path = os.environ.get("PNEUMONET_TEST_MEMORY")
    # Under pytest-xdist the workers run the tests and probe them; the controller runs none.
    controller = bool(getattr(config.option, "numprocesses", None)) and not os.environ.get("PYTEST_XDIST_WORKER")
    if path and not controller and not config.pluginmanager.has_plugin("pneumonet-memory-probe"):
        from tests.memory_probe import MemoryProbe

        config.pluginmanager.register(MemoryProbe(path), "pneumonet-memory-probe")

#: The training split beside the checkout (read-only; a copy in CI).
SHARED_TRAIN_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chest_xray" / "train"


def pytest_collection_modifyitems(config, items) -> None:
    """The order of a run: the tests marked own_process, then those marked early (by their
    rank, 0 first), then the rest, each in its collected order.

    Why: what they start (a child pytest training a ResNet152V2, a local Ray) comes on top
    of pytest's own memory, which only grows over the suite (issue 28's 4 GB ceiling for the
    whole tree). Collecting the suite loads no TensorFlow (tests/test_collection.py), so
    pytest is smallest at first, about 0.4 GB: the own_process children run then, side by
    side where their sizes allow and beside nothing else (tests/own_process.py), and the
    tests that load TensorFlow into pytest come after them.
    """

    def rank(item) -> int:
        if item.get_closest_marker("own_process"):
            return 0
        early = item.get_closest_marker("early")
        if early is not None:
            return 1 + early.kwargs.get("rank", 2)
        return 4

    items.sort(key=rank)


@pytest.fixture(scope="session")
def shared_train_dir() -> Path:
    """The training folder holding NORMAL/ and PNEUMONIA/ (tests only read it)."""
    if not (SHARED_TRAIN_DIR / "NORMAL").is_dir():
        pytest.fail(f"training data not found at {SHARED_TRAIN_DIR} (see shared/data/README.md)")
    return SHARED_TRAIN_DIR


@pytest.fixture(scope="session")
def some_training_jpeg(shared_train_dir: Path) -> Path:
    """One real training image: the first NORMAL JPEG by name (224 x 224, RGB)."""
    return sorted((shared_train_dir / "NORMAL").glob("*.jpeg"))[0]


@pytest.fixture(scope="session")
def make_dicom_from_image():
    """``make_dicom_from_image(path_or_array, tmp_path, **options) -> Path``.

    See tests/dicom_factory.py for the options (transfer syntax, photometric, rescale,
    window, VOI LUT, header keywords, no preamble...).
    """
    return _make_dicom_from_image


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Path:
    """User settings and models live in this test's folder; no active-model override."""
    home = tmp_path / "home"
    monkeypatch.setenv("PNEUMONET_HOME", str(home))
    monkeypatch.delenv("PNEUMONET_MODEL", raising=False)
    return home


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where tests save screenshots a person would look at: $PNEUMONET_SCREENSHOTS or tmp."""
    import os

    folder = Path(os.environ.get("PNEUMONET_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
