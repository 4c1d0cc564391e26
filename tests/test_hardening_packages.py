"""Hostile model packages and settings: code-running layers, signatures, broken settings,
a deleted active model (issue 12)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pneumonet_cli.main import main
from pneumonet_core.errors import ModelPackageError
from tests.helpers import forge_architecture, make_tiny_model, reseal

JPEG = sorted((Path(__file__).resolve().parents[2] / "shared/data/chest_xray/train/NORMAL").glob("*.jpeg"))[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.pneumonet")


@pytest.fixture(autouse=True)
def quick_default(monkeypatch):
    """The bundled CNN stands in as the default model: these tests are about choosing it, not its size."""
    from pneumonet_core.models import registry

    monkeypatch.setattr(registry, "BUNDLED_PREFERENCE", ("pneumonet-cnn.pneumonet",))


def _layers(config):
    return config["config"]["layers"]


def _add_lambda(config):
    layer = _layers(config)[-1]
    layer.update({"module": "keras.layers", "class_name": "Lambda", "registered_name": None})
    layer["config"] = {"name": "evil", "function": {"class_name": "__lambda__", "config": {
        "code": "YQ==", "defaults": None, "closure": None}}, "function_type": "lambda", "output_shape": None}


def _custom_module(config):
    _layers(config)[1].update({"module": "os", "class_name": "system", "registered_name": "os>system"})


def _function_activation(config):
    for layer in _layers(config):
        if "activation" in layer["config"]:
            layer["config"]["activation"] = {"module": "builtins", "class_name": "function", "config": "eval",
                                             "registered_name": "function"}
            return


def _tfsm(config):
    _layers(config)[-1].update({"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None})


def _wrong_registered_name(config):
    for layer in _layers(config):
        if layer["module"] == "pneumonet_core.models.layers":
            layer["registered_name"] = "attacker>GrayToBackboneInput"


@pytest.mark.parametrize(("change", "words"), [
    (_add_lambda, "(Lambda) can run code"),
    (_custom_module, "os.system"),
    (_function_activation, "points at a function"),
    (_tfsm, "(TFSMLayer)"),
    (_wrong_registered_name, "not a registered Pneumonet layer"),
])
def test_code_running_architectures_are_refused_before_keras_sees_them(tiny, tmp_path, change, words, capsys,
                                                                      monkeypatch):
    forged = forge_architecture(tiny, tmp_path / "forged.pneumonet", change)
    import keras

    calls = []
    monkeypatch.setattr(keras.saving, "deserialize_keras_object", lambda *a, **k: calls.append(a))
    with pytest.raises(ModelPackageError) as info:
        from pneumonet_core.models.package import load_package

        load_package(forged)
    message = str(info.value)
    assert "refused:" in message and words in message and "\n" not in message
    assert calls == []  # refused on the allow-list, never handed to Keras
    assert main(["classify", str(JPEG), "--model", str(forged)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "refused:" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.own_process("every-architecture", gb=1.6)  # builds a ResNet152V2: 0.5 GB TensorFlow keeps
def test_the_models_of_every_approach_pass_the_allow_list():
    from pneumonet_core.models.architectures import ModelSpec, build_model
    from pneumonet_core.models.ensemble import build_ensemble
    from pneumonet_core.models.safe_config import check_architecture

    for approach, labels in (("cnn", "binary"), ("cnn", "three"), ("transfer", "binary"), ("finetune", "three")):
        model = build_model(ModelSpec(approach=approach, labels=labels, weights="none", cnn_width=4))
        check_architecture(json.loads(model.to_json()))
    # Every recipe option of the input stage, and an ensemble of such models.
    options = dict(approach="cnn", cnn_width=4, crop=0.08, input_norm="standardize", resolution=160)
    check_architecture(json.loads(build_ensemble([build_model(ModelSpec(**options)) for _ in range(2)]).to_json()))
    for bundled in Path("resources/models").glob("*.pneumonet"):
        import zipfile

        with zipfile.ZipFile(bundled) as zf:
            check_architecture(json.loads(zf.read("architecture.json")))


def test_models_are_rebuilt_in_safe_mode_even_if_unsafe_mode_was_enabled(tiny, monkeypatch):
    import keras

    from pneumonet_core.models.package import load_package

    seen = {}
    real = keras.saving.deserialize_keras_object

    def spy(config, safe_mode=None, **kwargs):
        from keras.src.saving.serialization_lib import in_safe_mode

        seen["safe_mode"], seen["scope"] = safe_mode, in_safe_mode()
        return real(config, safe_mode=safe_mode, **kwargs)

    keras.config.enable_unsafe_deserialization()
    try:
        monkeypatch.setattr(keras.saving, "deserialize_keras_object", spy)
        load_package(tiny)
    finally:
        from keras.src.saving.serialization_lib import global_state

        global_state.set_global_attribute("safe_mode_saving", None)
    assert seen == {"safe_mode": True, "scope": True}


def test_an_old_keras_is_refused(tiny, monkeypatch):
    import keras

    from pneumonet_core.models.package import load_package

    monkeypatch.setattr(keras, "__version__", "3.10.0")
    with pytest.raises(ModelPackageError, match="upgrade to Keras 3.14"):
        load_package(tiny)


# --- signatures ---------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path, isolated_home):
    assert main(["keygen", str(tmp_path / "site.pem"), "--trust"]) == 0
    assert main(["keygen", str(tmp_path / "other.pem")]) == 0
    assert oct((tmp_path / "site.pem").stat().st_mode & 0o777) == "0o600"
    return tmp_path / "site.pem", tmp_path / "other.pem"


def _classify(model, *extra) -> int:
    return main(["classify", str(JPEG), "--model", str(model), *extra])


def test_signing_and_requiring_signatures(tiny, tmp_path, keys, capsys, monkeypatch):
    site, other = keys
    signed = tmp_path / "signed.pneumonet"
    assert main(["sign", str(tiny), "--key", str(site), "--out", str(signed)]) == 0
    by_other = tmp_path / "other.pneumonet"
    assert main(["sign", str(tiny), "--key", str(other), "--out", str(by_other)]) == 0
    capsys.readouterr()
    # Not required: everything loads.
    assert _classify(tiny) == 0 and _classify(by_other) == 0
    # Required by the flag: only the trusted signature passes, each refusal is one line.
    for model, words in ((tiny, "not signed"), (by_other, "not among the trusted keys")):
        capsys.readouterr()
        assert _classify(model, "--require-signature") == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "refused: a signature is required" in err and words in err
    assert _classify(signed, "--require-signature") == 0
    assert "PNEUMONET_REQUIRE_SIGNATURE" not in os.environ  # the flag lasts one run
    # Required by the environment and by the settings, as by the flag.
    monkeypatch.setenv("PNEUMONET_REQUIRE_SIGNATURE", "1")
    assert _classify(tiny) == 1 and _classify(signed) == 0
    monkeypatch.delenv("PNEUMONET_REQUIRE_SIGNATURE")
    from pneumonet_core.settings import update_settings

    update_settings(require_signature=True)
    assert _classify(tiny) == 1 and _classify(signed) == 0
    assert main(["models", "install", str(tiny)]) == 1  # not installed either
    # The bundled models ship with the app and stay usable.
    assert main(["classify", str(JPEG)]) == 0


def test_commands_that_derive_a_package_refuse_an_unsigned_one_when_signatures_are_required(
        tiny, tmp_path, keys, capsys):
    """calibrate, ensemble and guard fit read a model too: --require-signature holds for them."""
    from tests.helpers import link_films

    films = link_films(tmp_path / "films", 20)
    out = tmp_path / "derived.pneumonet"
    commands = (["calibrate", str(films), "--model", str(tiny)],
                ["guard", "fit", str(films), "--model", str(tiny)],
                ["ensemble", str(tiny), str(tiny), "--data", str(films)])
    for command in commands:
        capsys.readouterr()
        assert main([*command, "--out", str(out), "--require-signature"]) == 1, command
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "refused: a signature is required" in err, command
        assert not out.exists()


def test_a_forged_signature_or_a_changed_signed_package_is_refused(tiny, tmp_path, keys, capsys):
    import base64
    import zipfile

    site, _ = keys
    signed = tmp_path / "signed.pneumonet"
    main(["sign", str(tiny), "--key", str(site), "--out", str(signed)])
    # Someone re-seals the signed package with a new threshold: the manifest changes, the signature no longer fits.
    from pneumonet_core.models.package import read_card

    card = read_card(signed)
    with zipfile.ZipFile(signed) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    card.threshold = 0.01
    from pneumonet_core.models import package

    files.pop("card.json")
    edited = tmp_path / "edited.pneumonet"
    package._write(edited, files, card)
    with zipfile.ZipFile(edited, "a") as zf:  # and puts the old signature back
        zf.writestr("signature.json", files["signature.json"])
    record = json.loads(files["signature.json"])
    record["signature"] = base64.b64encode(b"\0" * 64).decode()
    garbled = reseal(signed, tmp_path / "garbled.pneumonet")
    with zipfile.ZipFile(garbled, "a") as zf:
        zf.writestr("signature.json", json.dumps(record))
    capsys.readouterr()
    for model in (edited, garbled):
        assert _classify(model, "--require-signature") == 1
        assert "does not match the package" in capsys.readouterr().err
    assert main(["info", "--model", str(edited)]) == 0
    assert "Signature:    signature by key" in capsys.readouterr().out


def test_info_shows_the_signature_status(tiny, tmp_path, keys, capsys):
    site, _ = keys
    signed = tmp_path / "signed.pneumonet"
    main(["sign", str(tiny), "--key", str(site), "--out", str(signed)])
    capsys.readouterr()
    assert main(["info", "--model", str(signed)]) == 0
    assert "Signature:    signed by trusted key" in capsys.readouterr().out
    assert main(["info", "--model", str(tiny), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["signature"]["state"] == "unsigned"
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "bundled with Pneumonet" in out and "/" not in out.split("File:")[1].splitlines()[0]


# --- settings and the active model --------------------------------------------------------


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"active_model": 42, "trusted_keys": "x"}', "\xff\xfe"])
def test_broken_settings_give_one_line_and_the_defaults(isolated_home, text, capsys):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "settings.json").write_bytes(text.encode("latin-1"))
    assert main(["classify", str(JPEG)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warnings = [line for line in err if "settings.json" in line]
    assert len(warnings) == 1 and "Traceback" not in "".join(err)
    from pneumonet_core.models.registry import active_model

    assert active_model().source == "bundled"


def test_a_mistyped_require_signature_fails_closed(isolated_home, tiny, capsys):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "settings.json").write_text('{"require_signature": "yes"}')
    assert _classify(tiny) == 1
    err = capsys.readouterr().err
    assert "requiring signatures until it is fixed" in err and "refused: a signature is required" in err


def test_a_deleted_active_model_falls_back_visibly(isolated_home, tmp_path, capsys):
    mine = make_tiny_model(tmp_path / "mine.pneumonet")
    assert main(["models", "use", str(mine)]) == 0
    mine.unlink()
    capsys.readouterr()
    from pneumonet_core.models.registry import active_model

    active = active_model()
    assert active.source == "bundled" and "mine.pneumonet no longer exists" in active.fallback_reason
    assert main(["classify", str(JPEG)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "bundled default" in line] == [
        f"pneumonet: warning: {active.fallback_reason}"]
