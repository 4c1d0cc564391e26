"""The model package: round trip, compression, hash checks, and clear errors on bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from pneumonet_core.errors import ModelPackageError
from pneumonet_core.models.archive import is_model_package
from pneumonet_core.models.package import load_package, read_card, save_package, update_card
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


def _copy_with(src, dst, edit):
    """Copy a package, passing each member's bytes through ``edit(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))
    return dst


def _edit_card(name, data, **changes):
    if name != "card.json":
        return data
    card = json.loads(data)
    card.update(changes)
    return json.dumps(card).encode()


def test_a_tampered_weight_fails_the_integrity_check(tiny, tmp_path):
    def flip(name, data):
        return data[:-4] + b"\x00\x00\x80\x3f" if name.startswith("weights/0003") else data

    bad = _copy_with(tiny, tmp_path / "tampered.pneumonet", flip)
    with pytest.raises(ModelPackageError, match="weights/0003_value.npy was modified"):
        load_package(bad)


@pytest.mark.parametrize("changes", [{"threshold": 0.01}, {"threshold": float("nan")}, {"class_names": ["A", "B"]},
                                     {"notes": ["edited"]}, {"calibration": {"method": "temperature", "t": 9}}])
def test_an_edited_card_is_refused_by_every_reader(tiny, tmp_path, changes):
    bad = _copy_with(tiny, tmp_path / "edited.pneumonet", lambda n, d: _edit_card(n, d, **changes))
    for read in (load_package, read_card):
        with pytest.raises(ModelPackageError, match="model card was edited") as info:
            read(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_an_edited_card_with_a_recomputed_manifest_fails_the_content_hash(tiny, tmp_path):
    from pneumonet_core.models.integrity import manifest_bytes

    with zipfile.ZipFile(tiny) as zin:
        files = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    files["card.json"] = _edit_card("card.json", files["card.json"], threshold=0.01)
    files["integrity.json"] = manifest_bytes(files)
    bad = tmp_path / "forged.pneumonet"
    with zipfile.ZipFile(bad, "w") as zout:
        for name, data in files.items():
            zout.writestr(name, data)
    with pytest.raises(ModelPackageError, match="content hash mismatch"):
        read_card(bad)


@pytest.mark.parametrize("changes, field", [({"threshold": "0.5"}, "threshold"), ({"class_names": "NORMAL"}, "class_names"),
                                            ({"metrics": [1, 2]}, "metrics")])
def test_a_card_with_wrong_types_gets_one_line_naming_the_field(tiny, tmp_path, changes, field):
    from pneumonet_core.models.integrity import manifest_bytes

    with zipfile.ZipFile(tiny) as zin:
        files = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    files["card.json"] = _edit_card("card.json", files["card.json"], **changes)
    files["integrity.json"] = manifest_bytes(files)
    bad = tmp_path / "types.pneumonet"
    with zipfile.ZipFile(bad, "w") as zout:
        for name, data in files.items():
            zout.writestr(name, data)
    with pytest.raises(ModelPackageError, match=f"field '{field}' has the wrong type") as info:
        read_card(bad)
    assert "\n" not in str(info.value)


def test_an_added_file_or_an_old_format_is_refused(tiny, tmp_path):
    extra = tmp_path / "extra.pneumonet"
    with zipfile.ZipFile(extra, "w") as zout, zipfile.ZipFile(tiny) as zin:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr("extra/payload.bin", b"surprise")
    with pytest.raises(ModelPackageError, match="extra/payload.bin is not in the integrity manifest"):
        read_card(extra)
    old = _copy_with(tiny, tmp_path / "v1.pneumonet",
                     lambda n, d: b'{"format": "pneumonet-model", "version": 1}' if n == "pneumonet-model.json" else d)
    with pytest.raises(ModelPackageError, match="older Pneumonet"):
        load_package(old)


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path):
    bomb = tmp_path / "bomb.pneumonet"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pneumonet-model.json", '{"format": "pneumonet-model", "version": 2}')
        zf.writestr("weights/0000_value.npy", b"\0" * (64 << 20))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(ModelPackageError, match="possible zip bomb"):
        load_package(bomb)


def test_rewrite_package_gives_a_new_verified_package_and_leaves_the_source(tiny, tmp_path):
    from pneumonet_core.models.package import rewrite_package

    source = tmp_path / "source.pneumonet"
    source.write_bytes(tiny.read_bytes())
    before = source.read_bytes()
    card = read_card(source)
    card.threshold = 0.3
    card.calibration = {"method": "temperature", "temperature": 1.5}
    out = tmp_path / "calibrated.pneumonet"
    new = rewrite_package(source, out, card, extras={"ood.npz": b"reference"})
    assert source.read_bytes() == before and read_card(source).threshold == 0.42
    package = load_package(out)
    assert package.card.threshold == 0.3 and package.card.hash == new.hash != read_card(source).hash
    assert package.extras == {"ood.npz": b"reference"}
    np.testing.assert_array_equal(_weights(source)[0], _weights(out)[0])
    # None removes an extra file; the result stays verifiable.
    rewrite_package(out, out, read_card(out), extras={"ood.npz": None})
    assert load_package(out).extras == {}


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
    new = update_card(path, card)
    assert load_package(path).card.threshold == 0.7
    assert new.hash != read_card(tiny).hash  # the threshold changes answers, so it is part of the hash
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
