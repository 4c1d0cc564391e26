"""Start the desktop app, or run it as a script: ``--screenshot`` and ``--selftest``.

``run_app`` is what ``pneumonet gui`` calls (and, through it, ``pneumonet-gui`` and the
frozen app: see ``app_entry_point`` in the CLI's main module).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: How long a scripted run waits for a model load plus one analysis before giving up.
SCRIPT_TIMEOUT_S = 600
SCREENSHOT_SIZE = (1440, 900)


def _err(message: str) -> None:
    if sys.stderr is not None:
        print(message, file=sys.stderr, flush=True)


def _out(message: str) -> None:
    if sys.stdout is not None:
        print(message, flush=True)


def icon_path() -> Path | None:
    from pneumonet_core.models.registry import resources_dir

    for name in ("pneumonet-256.png", "pneumonet.svg"):
        path = resources_dir() / "icons" / name
        if path.exists():
            return path
    return None


def make_application(offscreen: bool = False):
    """The QApplication with Pneumonet's name, icon and dark theme (created once)."""
    if offscreen and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from pneumonet_gui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        QApplication.setApplicationName("Pneumonet")
        QApplication.setOrganizationName("Pneumonet")
        QApplication.setApplicationDisplayName("Pneumonet")
        app = QApplication(sys.argv[:1])
    apply_theme(app)
    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _wait_for(signal_sources, timeout_s: float) -> bool:
    """Run the event loop until one of the signals fires or ``timeout_s`` passes; True if fired."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired = []

    def done(*_args):
        fired.append(True)
        loop.quit()

    for signal in signal_sources:
        signal.connect(done)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    for signal in signal_sources:
        signal.disconnect(done)
    return bool(fired)


def _dispose(window) -> None:
    """Close and really delete a scripted run's window (and its panels) before returning.

    ``run_screenshot`` and ``run_selftest`` may run inside a longer-lived process (tests,
    the CLI); a closed but undeleted window would stay alive with all its widgets.
    """
    from PySide6.QtCore import QCoreApplication, QEvent

    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def run_app(file=None, model=None, screenshot=None, selftest: bool = False, training: bool = False) -> int:
    """Run the viewer; returns the process exit code."""
    if selftest:
        return run_selftest(model, training=training)
    if screenshot is not None:
        return run_screenshot(file, model, screenshot)
    app = make_application()
    from PySide6.QtCore import QTimer

    from pneumonet_gui.error_hook import install_excepthook
    from pneumonet_gui.main_window import MainWindow

    install_excepthook()
    window = MainWindow(model=model)
    window.show()
    if file is not None:
        QTimer.singleShot(0, lambda: window.show_scan(file))
    _quit_on_ctrl_c(app)
    return int(app.exec())


def _quit_on_ctrl_c(app) -> None:
    """Ctrl+C in the terminal closes the app (Python only sees signals between Qt events)."""
    import signal

    from PySide6.QtCore import QTimer

    try:
        signal.signal(signal.SIGINT, lambda *_: app.closeAllWindows())
    except ValueError:  # not the main thread
        return
    app._sigint_timer = timer = QTimer()  # wakes the interpreter so the handler can run
    timer.timeout.connect(lambda: None)
    timer.start(300)


def run_screenshot(file, model, out) -> int:
    """Open ``file``, wait for the result and heat map, save the window as ``out``; exit code."""
    if file is None:
        _err("pneumonet gui: --screenshot needs a FILE to open")
        return 2
    app = make_application(offscreen=True)
    from pneumonet_gui.main_window import MainWindow

    window = MainWindow(model=model)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    app.processEvents()
    window.show_scan(file)
    finished = window.current.done or _wait_for([window.controller.finished], SCRIPT_TIMEOUT_S)
    for _ in range(5):  # let the final layout and repaint settle before grabbing
        app.processEvents()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = window.grab().save(str(out))
    current = window.current
    _dispose(window)
    if not finished:
        _err(f"pneumonet gui: {file}: no result after {SCRIPT_TIMEOUT_S} s")
        return 1
    if not saved:
        _err(f"pneumonet gui: could not write {out}")
        return 1
    if current.error:
        _err(f"pneumonet gui: {current.error}")
        return 1
    if current.heatmap is None:
        _err(f"pneumonet gui: {file}: heat map failed: {current.heatmap_error}")
        return 1
    result = current.result
    _out(f"{file}: {result.label} p={result.probability:.4f} "
         f"(threshold {result.threshold:.4f}); screenshot saved to {out}")
    return 0


def selftest_scan():
    """A synthetic chest-like image (dark lungs, bright mediastinum) made with numpy."""
    import numpy as np

    from pneumonet_core.imaging.scan import Scan, SourceInfo

    height, width = 480, 400
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = 0.55 + 0.25 * (y / height)
    for cx in (0.3 * width, 0.7 * width):
        lung = ((x - cx) / (0.16 * width)) ** 2 + ((y - 0.5 * height) / (0.33 * height)) ** 2 < 1.0
        image[lung] -= 0.35
    image += np.random.default_rng(0).normal(0, 0.02, image.shape).astype(np.float32)
    pixels = np.clip(image, 0.0, 1.0).astype(np.float32)
    source = SourceInfo(format="PNG", width=width, height=height, photometric="L")
    return Scan(path=Path("selftest.png"), pixels=pixels, source=source)


def run_selftest(model=None, training: bool = False) -> int:
    """Load the model, classify and explain a synthetic image in the viewer; 0 when it all works.

    ``training``: then load the same model with TensorFlow and explain the image with it
    (:func:`~pneumonet_core.inference.training_check.self_check`: the packaged app's training part).
    """
    started = time.perf_counter()
    app = make_application(offscreen=True)
    from pneumonet_gui.main_window import MainWindow

    window = MainWindow(model=model, start_model=False, extensions=False)
    window.set_model(model)
    if not _wait_for([window.active_model.loaded, window.active_model.failed], SCRIPT_TIMEOUT_S) \
            or window.model_card is None:
        message = window.error_banner.text() or "no answer from the model loader"
        _dispose(window)
        _err(f"selftest FAILED: {message}")
        return 1
    loaded = time.perf_counter()
    scan = selftest_scan()
    window.show_loaded_scan(scan)
    finished = window.current.done or _wait_for([window.controller.finished], SCRIPT_TIMEOUT_S)
    current, card, path = window.current, window.model_card, window.model_path
    classifier = window.active_model.classifier
    runtime = getattr(classifier, "runtime", "?")
    heatmap, guard_note = current.heatmap, ""
    if finished and current.result is not None and current.result.withheld:
        # A model with a fitted guard rightly withholds a drawn film, and the viewer shows no
        # heat map for it; Grad-CAM is still checked, directly.
        guard_note = f"; withheld by the guard as expected for a drawn film ({current.result.ood_reason})"
        try:
            heatmap = classifier.heatmap(scan, current.result)
        except Exception as exc:  # noqa: BLE001 - reported as the selftest's failure
            current.heatmap_error = str(exc)
    app.processEvents()
    _dispose(window)
    if not finished or current.error or current.result is None:
        _err(f"selftest FAILED: {current.error or 'no result'}")
        return 1
    if heatmap is None:
        _err(f"selftest FAILED: heat map: {current.heatmap_error}")
        return 1
    if runtime == "litert" and "tensorflow" in sys.modules:  # LiteRT shows a result without TensorFlow
        _err("selftest FAILED: TensorFlow was loaded to show a LiteRT result")
        return 1
    done = time.perf_counter()
    result = current.result
    _out(f"selftest ok: model {card.name} version {card.version} ({path}); "
         f"{'result withheld' if result.withheld else f'p={result.probability:.4f} {result.label}'}{guard_note}; "
         f"heat map {heatmap.shape[1]}x"
         f"{heatmap.shape[0]}; runtime {runtime} ({getattr(classifier, 'graph_source', 'keras')}), TensorFlow "
         f"{'loaded' if 'tensorflow' in sys.modules else 'not loaded'}; model load {loaded - started:.1f} s, "
         f"analysis {done - loaded:.1f} s")
    if training:
        from pneumonet_core.inference.training_check import self_check

        try:
            line = self_check(path, scan)
        except Exception as exc:  # noqa: BLE001 - reported as the selftest's failure, in one line
            _err(f"selftest FAILED: training part: {' '.join(str(exc).split()) or type(exc).__name__}")
            return 1
        _out(f"selftest training ok: {line}")
    return 0
