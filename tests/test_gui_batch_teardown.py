"""Closing the batch panel mid-run, as the main window does: every job it and its model
started has ended when the close returns, and nothing arrives afterwards.

Why a test: a job left running (a model's warm-up compiling in TensorFlow) was still inside
native code when the interpreter exited, and the process aborted (exit 134) after every test
had passed (issue 28).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pneumonet_gui.batch import BatchPanel
from tests.helpers import SHARED_TRAIN, make_tiny_model
from tests.test_gui_batch import WAIT_MS, models  # noqa: F401 - a fixture

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("isolated_home")]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pneumonet")


@pytest.fixture(scope="module")
def classifier(model_path):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(model_path)


def test_closing_mid_run_cancels_and_joins_every_job_and_nothing_arrives_after(qtbot, qapp, classifier, model_path,
                                                                               monkeypatch, models):
    # What the main window does on close (panel.shutdown, then the model's): every job has
    # ended when it returns, none is left in native code for the interpreter's exit.
    model = models(classifier)
    widget = BatchPanel(model, batch_size=4)
    qtbot.addWidget(widget)
    paths = sorted((SHARED_TRAIN / "NORMAL").glob("*.jpeg"))[:40]
    gate, calls, real = threading.Event(), [], classifier.predict_inputs

    def slow_predict(inputs):  # holds the second batch until the panel is closing
        calls.append(len(inputs))
        if len(calls) >= 2:
            gate.wait(30)
        return real(inputs)

    monkeypatch.setattr(classifier, "predict_inputs", slow_predict)
    assert widget.start(paths)
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=WAIT_MS)
    job = widget.worker
    threading.Timer(0.5, gate.set).start()  # the batch in progress ends while the panel waits for it
    widget.shutdown()
    assert job.cancelled and not job.is_running and not job._thread.is_alive()
    assert len(calls) == 2  # no batch started after the close
    ended = []
    widget.batchFinished.connect(ended.append)
    qtbot.waitUntil(lambda: ended == [True], timeout=WAIT_MS)  # the queued end, as a cancel
    kept = len(widget.results)
    assert kept == 2 * widget.batch_size and not widget.running
    for _ in range(20):
        qapp.processEvents()
    assert len(widget.results) == kept and ended == [True]  # nothing else came

    # A model loaded meanwhile is warming up (compiling its graph) in a job: the model's
    # shutdown ends it too.
    model.load(model_path)
    qtbot.waitUntil(lambda: model._warm.worker is not None, timeout=WAIT_MS)
    warm = model._warm.worker
    model.shutdown()
    assert warm.cancelled and not warm._thread.is_alive()
