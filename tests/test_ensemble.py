"""``pneumonet ensemble``: members of one split become one package that averages them."""

from __future__ import annotations

import numpy as np
import pytest

from pneumonet_cli.main import main as cli_main
from pneumonet_core.imaging import load_scan
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.models.package import load_package, read_card
from pneumonet_core.training.config import TrainConfig
from pneumonet_core.training.trainer import train

pytestmark = [pytest.mark.slow,  # trains its members
              pytest.mark.own_process(gb=1.45)]  # in a child pytest: TensorFlow keeps what training took


@pytest.fixture(scope="module")
def members(shared_train_dir, tmp_path_factory):
    """Three tiny CNNs: two trained on split 1 (weight seeds 1 and 2; no augmentation, which
    only slows the graph's tracing here), and ``c``: ``a`` as if trained on another split (its
    validation and test patients swapped), which is all the split check reads."""
    import dataclasses

    from pneumonet_core.models.package import rewrite_package

    folder = tmp_path_factory.mktemp("members")
    out = {}
    for name, seed in (("a", 1), ("b", 2)):
        config = TrainConfig(data_dir=shared_train_dir, out=folder / f"{name}.pneumonet", epochs=1, batch_size=16,
                             limit=160, cnn_width=4, seed=seed, split_seed=1, augment=False)
        out[name] = train(config).out
    card = read_card(out["a"])
    data = {**card.data, "test_patients": card.data["validation_patients"],
            "validation_patients": card.data["test_patients"]}
    out["c"] = folder / "c.pneumonet"
    rewrite_package(out["a"], out["c"], dataclasses.replace(card, name="c", data=data))
    return out


def test_an_ensemble_averages_its_members_and_is_measured_on_their_held_out_patients(members, shared_train_dir,
                                                                                       tmp_path, some_training_jpeg):
    out = tmp_path / "ens.pneumonet"
    assert cli_main(["ensemble", str(members["a"]), str(members["b"]), "--data", str(shared_train_dir),
                     "--out", str(out), "--name", "tiny-ensemble"]) == 0
    package = load_package(out)
    card = package.card
    a, b = read_card(members["a"]), read_card(members["b"])
    assert card.name == "tiny-ensemble" and card.spec["members"] == 2
    assert card.data["test_patients"] == a.data["test_patients"] and card.metrics["n"] == a.metrics["n"]
    assert [m["hash"] for m in card.training["ensemble"]] == [a.hash, b.hash]
    scan = load_scan(some_training_jpeg)
    raw = [Classifier.load(members[k]).predict_inputs(np.stack([_input(scan)]))[0, 0] for k in ("a", "b")]
    ensemble = Classifier.load(out)
    assert ensemble.predict_inputs(np.stack([_input(scan)]))[0, 0] == pytest.approx(np.mean(raw), abs=1e-6)
    heat = ensemble.heatmap(scan)
    assert heat.shape == scan.shape and heat.max() == pytest.approx(1.0) and heat.min() >= 0


def _input(scan):
    from pneumonet_core.preprocessing import preprocess

    return preprocess(scan.pixels)


def test_members_of_another_split_are_refused_in_one_line(members, shared_train_dir, tmp_path, capsys):
    code = cli_main(["ensemble", str(members["a"]), str(members["c"]), "--data", str(shared_train_dir),
                     "--out", str(tmp_path / "bad.pneumonet")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "another patient split" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad.pneumonet").exists()


def test_an_ensembles_guard_reads_its_first_member_and_classifies_in_one_call(members, shared_train_dir, tmp_path,
                                                                              some_training_jpeg):
    from tests.helpers import link_films

    ensemble = tmp_path / "ens.pneumonet"
    assert cli_main(["ensemble", str(members["a"]), str(members["b"]), "--data", str(shared_train_dir),
                     "--out", str(ensemble)]) == 0
    films = link_films(tmp_path / "films", 40)
    guarded = tmp_path / "guarded.pneumonet"
    assert cli_main(["guard", "fit", str(films), "--model", str(ensemble), "--out", str(guarded)]) == 0
    classifier = Classifier.load(guarded)
    assert classifier.card.ood and classifier.guard.needs_features
    result = classifier.classify(load_scan(some_training_jpeg))
    assert result.out_of_distribution is False and result.ood_score is not None
