"""The Ray engine gives what the local engine gives: results, errors, exit codes, CSV/JSON/PDF,
progress and resume; Ray stays optional.

One small local Ray (2 CPUs, one model actor) serves the module. The command line's own Ray
(started on demand, as a user's run does) is tested in tests/test_scale_ray_cli.py, once this
module's Ray has stopped: two at once took 4 GB.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pneumonet_cli.main import main as cli_main
from tests.helpers import SHARED_TRAIN
from tests.test_batch_folder import make_batch_folder, make_split_model

# Starts Ray: 2.6 GB of processes beside pytest, so it runs right after the command line's Ray
# (tests/test_scale_ray_cli.py), before the other early tests make pytest larger.
pytestmark = [pytest.mark.slow, pytest.mark.early(rank=1)]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from pneumonet_core.inference.ray_engine import worker_env

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024 * 1024,
             runtime_env={"env_vars": worker_env()})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """29 files: 24 shared JPEGs, a DICOM with a patient, and four that fail (empty, truncated, notes, an SR)."""
    return make_batch_folder(tmp_path_factory.mktemp("ray"), n_per_class=12)


@pytest.fixture(scope="module")
def model(tmp_path_factory, folder) -> Path:
    return make_split_model(tmp_path_factory.mktemp("model"), folder.good)


def run_cli(argv: list[str], stderr=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(argv)
    return code, out.getvalue(), err.getvalue()


def test_ray_engine_yields_the_local_results(ray_cluster, folder, model):
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.inference.ray_engine import classify_paths_ray

    classifier = Classifier.load(model, batch_size=8)
    paths = find_scans([folder.root], recursive=True)
    local = list(classify_paths(paths, classifier, batch_size=8))
    remote = list(classify_paths_ray(paths, classifier, batch_size=8))
    assert ray_cluster.is_initialized()  # a Ray it did not start is left running
    assert [r.path for r in remote] == list(paths)
    assert sum(not r.ok for r in remote) == len(folder.bad) and {r.label for r in remote if r.ok} == {
        "NORMAL", "PNEUMONIA"}
    for a, b in zip(local, remote):
        da, db = a.to_dict(), b.to_dict()
        if a.ok:
            assert db.pop("probability") == pytest.approx(da.pop("probability"), abs=1e-4)
            for name, p in da.pop("class_probabilities").items():
                assert db["class_probabilities"].pop(name) == pytest.approx(p, abs=1e-4)
            db.pop("class_probabilities")
        assert da == db  # same error strings, warnings, metadata, source, hash, label, threshold


def test_cli_outputs_are_the_same_with_either_engine(ray_cluster, folder, model, tmp_path, monkeypatch):
    import pneumonet_core.reports.pdf_common as pdf_common

    monkeypatch.setattr(pdf_common, "now_text", lambda: "2026-01-01 00:00 UTC")  # the one line that may differ
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        code, stdout, stderr = run_cli(["classify", str(folder.root), "--recursive", "--model", str(model),
                                        "--engine", engine, "--batch-size", "8", "--json", "--csv",
                                        str(out / "r.csv"), "--report", str(out / "r.pdf")])
        pdf = subprocess.run(["pdftotext", "-layout", str(out / "r.pdf"), "-"], capture_output=True, text=True,
                             check=True).stdout
        outputs[engine] = {"code": code, "json": stdout, "csv": (out / "r.csv").read_text(),
                           "pdf": pdf,
                           "summary": stderr.strip().splitlines()[-1]}
    assert outputs["local"]["code"] == 3
    for key in ("code", "json", "csv", "summary", "pdf"):
        assert outputs["ray"][key] == outputs["local"][key], key


def test_progress_bar_counts_every_scan_with_ray(ray_cluster, folder, model):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    code, stdout, _ = run_cli(["classify", str(folder.root), "--recursive", "--model", str(model), "--engine", "ray"],
                              stderr=terminal)
    assert code == 3 and len(stdout.splitlines()) == 29
    assert "29 / 29" in terminal.getvalue() and "scans/s" in terminal.getvalue()


def test_resume_with_ray_classifies_only_new_files(ray_cluster, folder, model, tmp_path):
    root = tmp_path / "batch"
    shutil.copytree(folder.root, root)
    first = tmp_path / "first.csv"
    assert run_cli(["classify", str(root), "--recursive", "--model", str(model), "--csv", str(first)])[0] == 3
    new = root / "zz-new.jpeg"
    shutil.copy(sorted((SHARED_TRAIN / "PNEUMONIA").glob("*.jpeg"))[40], new)
    second = tmp_path / "second.csv"
    code, stdout, _ = run_cli(["classify", str(root), "--recursive", "--model", str(model), "--csv", str(second),
                               "--resume", str(first), "--engine", "ray"])
    assert code == 3
    resumed = [line for line in stdout.splitlines() if line.endswith("(resumed)")]
    assert len(resumed) == 25  # every file that classified before; the failed ones are tried again
    assert any(line.startswith(f"{new}: ") and not line.endswith("(resumed)") for line in stdout.splitlines())
    before = first.read_text().splitlines()
    after = second.read_text().splitlines()
    assert len(after) == len(before) + 1 and set(before) <= set(after)


def test_missing_ray_says_how_to_install_it(folder, model, monkeypatch):
    for name in ("ray", "ray.data"):
        monkeypatch.setitem(sys.modules, name, None)  # import ray -> ImportError
    code, stdout, stderr = run_cli(["classify", str(folder.root), "--model", str(model), "--engine", "ray"])
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and "pip install 'pneumonet[ray]'" in stderr and "Traceback" not in stderr


def test_ray_options_need_the_ray_engine(folder, model):
    code, _, stderr = run_cli(["classify", str(folder.root), "--model", str(model), "--ray-address", "auto"])
    assert code == 2 and "--ray-address needs --engine ray" in stderr


def test_pneumonet_never_imports_ray():
    code = ("import sys, pneumonet_cli.main as m, pneumonet_core.inference.ray_engine, "
            "pneumonet_core.inference.engines; m.build_parser(); assert 'ray' not in sys.modules, 'ray imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_actor_plan_follows_the_cluster(ray_cluster):
    from pneumonet_core.inference.ray_engine import actor_plan, cluster_nodes

    assert cluster_nodes(ray_cluster)[0]["CPU"] == 2.0
    assert actor_plan([{"CPU": 2.0}]) == {"size": 1, "num_cpus": 1, "num_gpus": 0, "threads": None, "decode_cpus": 1}
    assert actor_plan([{"CPU": 16.0}]) == {"size": 3, "num_cpus": 4, "num_gpus": 0, "threads": 4, "decode_cpus": 1}
    assert actor_plan([{"CPU": 16.0}], actors=2)["size"] == 2
    # Actors fit the smallest node; one-core nodes share the core between model and decoding.
    assert actor_plan([{"CPU": 2.0}] * 8)["num_cpus"] == 1
    assert actor_plan([{"CPU": 1.0}]) == {"size": 1, "num_cpus": 0.5, "num_gpus": 0, "threads": None,
                                          "decode_cpus": 0.5}
    gpus = actor_plan([{"CPU": 32.0, "GPU": 4.0}, {"CPU": 32.0, "GPU": 4.0}])
    assert gpus["size"] == 8 and gpus["num_gpus"] == 1 and gpus["num_cpus"] == 1
    assert actor_plan([{"CPU": 4.0, "GPU": 4.0}])["num_cpus"] == 0


def test_stop_ends_the_ray_run_with_the_results_so_far(ray_cluster, folder, model):
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.inference.ray_engine import classify_paths_ray

    paths = folder.good * 3  # 75 files, 10 blocks of 8
    seen = []
    for result in classify_paths_ray(paths, Classifier.load(model, batch_size=8), batch_size=8,
                                     should_stop=lambda: len(seen) >= 5):
        seen.append(result)
    assert 5 <= len(seen) < len(paths)
    assert [r.path for r in seen] == list(paths[: len(seen)])
    assert ray_cluster.is_initialized()


def test_an_actor_that_cannot_load_the_model_fails_in_one_line(ray_cluster, folder, model):
    from pneumonet_core.errors import PneumonetError
    from pneumonet_core.inference.classifier import Classifier
    from pneumonet_core.inference.ray_engine import classify_paths_ray

    classifier = Classifier.load(model, batch_size=8)
    classifier.card.hash = "0" * 64  # the actors load the file and find another model
    with pytest.raises(PneumonetError, match="the Ray engine failed: .*differs from the driver's") as caught:
        list(classify_paths_ray(folder.good[:4], classifier, batch_size=8))
    assert "\n" not in str(caught.value)
