"""Model packages tried as an attacker would (issue 24, item 7): re-sealed packages whose card
makes no sense, a file dropped into the bundled folder, JSON nested to break the parser, and
files a loader must never read whole (/dev/zero, a FIFO, a huge manifest). Each is refused
in one line, with no traceback."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models import archive, package
from tests.helpers import forge_architecture, make_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("attack-models") / "tiny.pneumonet")


def resealed_with_card(source: Path, out: Path, **changes) -> Path:
    """``source`` re-sealed (valid manifest and hash) with card fields changed, as an attacker can."""
    card, files = archive.verified_files(source)
    package._write(out, files, dataclasses.replace(card, **changes))
    return out


@pytest.mark.parametrize("changes, words", [
    ({"calibration": {"method": "platt", "slope": math.nan, "intercept": 0.0}}, "calibration.slope is nan"),
    ({"calibration": {"method": "temperature", "temperature": -1.0}}, "calibration temperature"),
    ({"calibration": {"method": "isotonic", "x": [0.5, 0.1], "y": [0.0, 1.0]}}, "must not decrease"),
    ({"threshold": 0.0}, "threshold"),
    ({"threshold": 1.5}, "threshold"),
    ({"calibration": {"method": "platt", "slope": 0.0, "intercept": 0.0}}, "calibration slope is 0"),
    ({"class_names": ["NORMAL", "BACTERIAL", "VIRAL"]}, "3 class names for a network with 1 output"),
    ({"class_names": ["NORMAL", "NORMAL"]}, "class_names"),
    ({"input": {"size": [32, 32], "channels": 1}}, "input size"),
    ({"input": {"size": [256, 256], "channels": 1}}, "not the network's 224x224"),
    ({"ood": {"threshold": math.inf, "flag_at": 1.0}}, "ood.threshold"),
    ({"compression": "zip"}, "compression"),
])
def test_a_resealed_card_out_of_range_is_refused(tiny, tmp_path, changes, words, capsys):
    forged = resealed_with_card(tiny, tmp_path / "forged.pneumonet", **changes)
    with pytest.raises(ModelPackageError, match="model card") as caught:
        package.load_package(forged, require_signature=False)
    assert words in str(caught.value)
    assert main(["info", "--model", str(forged)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_32_pixel_network_is_refused_even_when_its_card_agrees(tiny, tmp_path):
    def shrink(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "InputLayer":
                layer["config"]["batch_shape"] = [None, 32, 32, 1]

    forged = forge_architecture(tiny, tmp_path / "small.pneumonet", shrink)
    with pytest.raises(ModelPackageError, match="input size"):
        package.read_card(forged)


def test_the_bundled_folder_gives_no_trust_by_location(tiny, tmp_path, monkeypatch):
    from pneumonet_core.models import bundled_pins, registry, signing

    assert bundled_pins.current_pins() == bundled_pins.BUNDLED_MANIFESTS  # the shipped models are pinned
    folder = tmp_path / "resources" / "models"
    folder.mkdir(parents=True)
    dropped = Path(shutil.copy(tiny, folder / "pneumonet-cnn.pneumonet"))
    monkeypatch.setattr(registry, "bundled_models_dir", lambda: folder)
    assert signing.package_signature_status(dropped).state == "unsigned"
    with pytest.raises(ModelPackageError, match="a signature is required"):
        package.load_package(dropped, require_signature=True)
    real = registry.resources_dir() / "models" / "pneumonet-cnn.pneumonet"
    copied = Path(shutil.copy(real, tmp_path / "copy.pneumonet"))  # the shipped content, anywhere
    assert signing.package_signature_status(copied).state == "bundled"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("member", ["pneumonet-model.json", "card.json", "integrity.json"])
def test_deeply_nested_json_is_refused_in_one_line(tmp_path, member, capsys):
    deep = b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    members = {"pneumonet-model.json": b'{"format": "pneumonet-model", "version": 2}', "card.json": b"{}",
               "integrity.json": b'{"files": {}}'}
    members[member] = deep
    path = _zip(tmp_path / "deep.pneumonet", members)
    assert main(["info", "--model", str(path)]) == 1
    err = capsys.readouterr().err
    assert "nests deeper" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_huge_manifest_is_refused_from_the_zip_directory(tmp_path):
    path = _zip(tmp_path / "huge.pneumonet", {"pneumonet-model.json": b'{"format": "pneumonet-model", "version": 2}',
                                             "integrity.json": b" " * (20 << 20)})
    with pytest.raises(ModelPackageError, match="refused"):
        package.read_card(path)


def test_devices_and_fifos_are_never_read(tmp_path, capsys):
    assert main(["info", "--model", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "not a model file" in err and len(err.strip().splitlines()) == 1
    fifo = tmp_path / "model.pneumonet"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(main(["info", "--model", str(fifo)])), daemon=True)
    reader.start()
    reader.join(30)
    assert outcome == [1]  # refused at once; before, the open blocked forever
    assert "FIFO" in capsys.readouterr().err
