"""The model package: round trip, compression, hash checks, and clear errors on bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models.package import is_model_package, load_package, read_card, save_package, update_card
from tests.helpers import make_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("m") / "tiny.pneumonet", threshold=0.42)


def _weights(path):
    return [np.asarray(w) for w in load_package(path).model.get_weights()]


def test_float32_round_trip_is_exact_and_keeps_the_card(tiny, tmp_path):
    package = load_package(tiny)
    assert package.card.threshold == 0.42 and package.card.name == "tiny-test-cnn"
    copy = tmp_path / "copy.pneumonet"
    card = save_package(package.model, package.card, copy)
    assert card.hash == package.card.hash  # same architecture and weights, same content hash
    for a, b in zip(_weights(tiny), _weights(copy)):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((2, 224, 224, 1), dtype=np.float32)
    np.testing.assert_array_equal(package.model.predict_on_batch(x), load_package(copy).model.predict_on_batch(x))


@pytest.mark.parametrize("compression, rtol", [("float16", 1e-3), ("int8", 1.5e-2)])
def test_compressed_weights_are_restored_to_float32_close_to_the_original(tmp_path, compression, rtol):
    # Width 16 has kernels above the size under which tensors stay float32.
    package = load_package(make_tiny_model(tmp_path / "w16.pneumonet", width=16))
    path = tmp_path / f"{compression}.pneumonet"
    save_package(package.model, package.card, path, compression=compression)
    assert read_card(path).compression == compression
    restored = load_package(path).model
    for original, value in zip(package.model.get_weights(), restored.get_weights()):
        value = np.asarray(value)
        assert value.dtype == np.float32
        scale = np.abs(original).max() or 1.0
        assert np.abs(value - original).max() <= rtol * scale
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("weights.json"))
    assert compression in {item["encoding"] for item in manifest}


def test_a_tampered_weight_fails_the_content_hash(tiny, tmp_path):
    bad = tmp_path / "tampered.pneumonet"
    with zipfile.ZipFile(tiny) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("weights/0003"):
                data = data[:-4] + b"\x00\x00\x80\x3f"
            dst.writestr(info.filename, data)
    with pytest.raises(ModelPackageError, match="content hash mismatch"):
        load_package(bad)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "not a Pneumonet model file"),
        (lambda p: p.write_text("hello, not a model"), "not a Pneumonet model file"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("other.txt", "x"), "no format marker"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
)
def test_foreign_files_get_a_one_line_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.pneumonet"
    make(path)
    with pytest.raises(ModelPackageError, match=message) as info:
        load_package(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not is_model_package(path)


def test_truncated_and_missing_files_are_refused(tiny, tmp_path):
    cut = tmp_path / "cut.pneumonet"
    cut.write_bytes(tiny.read_bytes()[: tiny.stat().st_size // 2])
    with pytest.raises(ModelPackageError):
        load_package(cut)
    with pytest.raises(ModelPackageError, match="not found"):
        load_package(tmp_path / "missing.pneumonet")


def test_update_card_rewrites_the_card_only_and_refuses_another_hash(tiny, tmp_path):
    path = tmp_path / "m.pneumonet"
    path.write_bytes(tiny.read_bytes())
    card = read_card(path)
    card.threshold = 0.7
    update_card(path, card)
    assert load_package(path).card.threshold == 0.7
    card.hash = "0" * 64
    with pytest.raises(ModelPackageError, match="hash"):
        update_card(path, card)


def test_saving_is_atomic_and_leaves_no_partial_file(tiny, tmp_path):
    package = load_package(tiny)

    class Exploding:
        weights = package.model.weights

        def to_json(self):
            return package.model.to_json()

    class Boom(Exception):
        pass

    def explode(*args, **kwargs):
        raise Boom()

    import pneumonet_core.models.package as pkg

    original = pkg._npy_bytes
    pkg._npy_bytes = lambda array: b"x" if array.size < 10 else original(array)
    try:
        pkg.zipfile.ZipFile.writestr, saved = explode, pkg.zipfile.ZipFile.writestr
        with pytest.raises(Boom):
            save_package(Exploding(), package.card, tmp_path / "out.pneumonet")
    finally:
        pkg.zipfile.ZipFile.writestr = saved
        pkg._npy_bytes = original
    assert list(tmp_path.iterdir()) == []
