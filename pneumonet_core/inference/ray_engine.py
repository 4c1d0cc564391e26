"""The Ray engine: classify many files on Ray Data, on this machine or on a cluster.

The same work as :func:`pneumonet_core.inference.batch.classify_paths`, split into two Ray
Data stages so a cluster can spread it over its nodes:

1. **decode** (tasks, one CPU each): each file is hashed, decoded and preprocessed by the
   local engine's own :func:`~pneumonet_core.inference.batch.decode_file`, so a file that fails
   gets the very same error string;
2. **model** (a pool of actors): each actor loads the model package once, runs batched
   forward passes (:meth:`Classifier.forward`: outputs and the guard's features) and turns
   each output row into a result with :meth:`Classifier.decide` (calibration, threshold
   and out-of-distribution guard of the card).

The driver gets the :class:`~pneumonet_core.results.ScanResult` objects back in the order
of the input paths, as the local engine yields them, so every output (lines, CSV, JSON,
PDF) and the exit code come out the same. Ray is an optional dependency: this module
imports it only when the engine runs (``pip install 'pneumonet[ray]'``).

On a cluster, every node needs Pneumonet installed (the same version) and the scans at
the same paths (a shared file system); the model travels through Ray's object store.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from pneumonet_core import __version__, imaging
from pneumonet_core.errors import PneumonetError
from pneumonet_core.inference.batch import decode_file
from pneumonet_core.inference.classifier import Classifier
from pneumonet_core.preprocessing import INPUT_SIZE
from pneumonet_core.results import ScanResult

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'pneumonet[ray]'"
#: Memory each decode task reserves: a full-size scan decodes to float32 (a 3,000 px
#: DICOM is 36 MB, the pixel limit 400 MB). It also keeps decoding a stage of its own:
#: Ray Data fuses consecutive maps only when their resource requests are the same.
DECODE_TASK_MEMORY = 512 * 1024 * 1024


def require_ray():
    """Import and return ``ray`` (with Ray Data), or fail with one line saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise PneumonetError(f"the Ray engine needs Ray Data, which is not installed: {INSTALL_HINT}") from None
    return ray


# --- stage 1: decode (Ray tasks) -------------------------------------------------------


def decode_stage(batch: dict, threshold: float) -> dict:
    """Decode and preprocess a block of files: model inputs plus each file's result so far.

    Runs in a Ray task. Results travel pickled (the one result type, unchanged); rows
    whose file failed carry a zero input and ``ok`` False.
    """
    paths = [str(p) for p in batch["path"]]
    inputs = np.zeros((len(paths), *INPUT_SIZE, 1), dtype=np.float32)
    ok = np.zeros(len(paths), dtype=bool)
    results = []
    for i, path in enumerate(paths):
        decoded = decode_file(Path(path), False, None, threshold)
        if decoded.model_input is not None:
            inputs[i], ok[i] = decoded.model_input, True
        results.append(pickle.dumps(decoded.result))
    return {"index": np.asarray(batch["index"]), "ok": ok, "input": inputs, "result": _blobs(results)}


def _blobs(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# --- stage 2: the model (a pool of Ray actors) -----------------------------------------


def _limit_threads(threads: int | None) -> None:
    """Keep an actor's TensorFlow to ``threads`` (None: all cores), so actors sharing a node do not fight."""
    import keras

    if keras.backend.backend() == "tensorflow" and threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(2)
        except RuntimeError:  # TensorFlow already started in this worker: keep its pools
            pass


class ModelStage:
    """A Ray Data actor: loads the model once, then classifies batches of decoded files."""

    def __init__(self, model: list, model_hash: str, precision: str, batch_size: int, apply_calibration: bool,
                 version: str, threads: int | None, accepted_ages: tuple | None = None, subtype: list | None = None):
        import ray

        if version != __version__:
            raise RuntimeError(f"this Ray node runs pneumonet {__version__}, the driver {version}: "
                               "install the same version on every node")
        with tempfile.TemporaryDirectory(prefix="pneumonet-ray-") as tmp:
            path = Path(tmp) / "model.pneumonet"
            path.write_bytes(ray.get(model[0]))  # one copy per node, from the object store
            subtype_path = None
            if subtype:  # the driver's bacterial/viral model, shipped like the model itself
                subtype_path = Path(tmp) / "subtype.pneumonet"
                subtype_path.write_bytes(ray.get(subtype[0]))
            # LiteRT by default ($PNEUMONET_RUNTIME from the driver): the graph is read or
            # derived while the package file exists, then it lives in memory.
            classifier = Classifier.load(path, batch_size=batch_size, precision=precision,
                                         apply_calibration=apply_calibration, subtype=subtype_path)
            classifier.subtype.model()  # loaded while its file exists
        if classifier.card.hash != model_hash:
            raise RuntimeError(f"model hash {classifier.card.hash} differs from the driver's {model_hash}")
        if classifier.runtime == "tensorflow":
            _limit_threads(threads)
        self.batch_size = batch_size
        if accepted_ages:  # the driver's accepted header ages (its --accept-ages or setting), not this node's
            classifier.guard.accepted_ages = tuple(accepted_ages)
        self.classifier = classifier

    def __call__(self, batch: dict) -> dict:
        good = np.flatnonzero(batch["ok"])
        results = list(batch["result"])
        if len(good):
            inputs = np.asarray(batch["input"])[good]
            outputs, features = self.classifier.forward(self._static_batches(inputs))
            decided = [self.classifier.decide(pickle.loads(results[i]), outputs[row], inputs[row],
                                              None if features is None else features[row])
                       for row, i in enumerate(good)]
            for i, result in zip(good, self.classifier.with_subtypes(decided, list(inputs))):
                results[i] = pickle.dumps(result)
        return {"index": np.asarray(batch["index"]), "result": _blobs(results)}

    def _static_batches(self, inputs: np.ndarray) -> np.ndarray:
        """Pad to whole batches: one input shape per actor, so compiled backends compile once.

        Samples do not interact in inference, so padding leaves every probability as it is.
        """
        short = -len(inputs) % self.batch_size
        if not short:
            return inputs
        return np.concatenate([inputs, np.zeros((short, *inputs.shape[1:]), inputs.dtype)])


# --- the driver ---------------------------------------------------------------------------


def _quiet_ray_data() -> None:
    """No Ray progress bars or execution banners: the CLI draws its own progress."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    context.execution_options.preserve_order = True  # results in input order, memory bounded
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"


def worker_env() -> dict[str, str]:
    """Environment of Ray's workers: the driver's runtime and Keras backend, TensorFlow's start-up logs quiet."""
    from pneumonet_core.inference.litert_runtime import RUNTIME_ENV, chosen_runtime, keras_backend_name

    return {"KERAS_BACKEND": keras_backend_name(), RUNTIME_ENV: chosen_runtime(),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}


def connect(address: str | None) -> bool:
    """Join the cluster at ``address`` (None: ``$RAY_ADDRESS``, else a local Ray started now).

    Returns True when this call started or joined Ray (so the caller shuts it down), False
    when Ray was already initialised in this process. Failures are one line.
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    where = address or os.environ.get("RAY_ADDRESS")
    target = f"the Ray cluster at {where}" if where else "a local Ray"
    unreachable = _unreachable(where)
    if unreachable:
        raise PneumonetError(f"cannot reach {target}: {unreachable}")
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 runtime_env={"env_vars": worker_env()})
    except Exception as exc:  # noqa: BLE001 - Ray raises many types (ConnectionError, RuntimeError, ...)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PneumonetError(f"cannot start or reach {target}: {reason}") from None
    return True


def _unreachable(address: str | None, timeout_s: float = 10.0) -> str | None:
    """Why ``HOST:PORT`` (or ``ray://HOST:PORT``) takes no connection, else None.

    Ray keeps retrying an address that does not answer for minutes; a plain TCP connection
    tells at once. ``auto``, ``local`` and None are Ray's to resolve.
    """
    if not address or address in ("auto", "local"):
        return None
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def cluster_nodes(ray) -> list[dict]:
    """The resources of each live node of the cluster (``{"CPU": 16.0, "GPU": 2.0, ...}``)."""
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]


def actor_plan(nodes: list[dict], actors: int | None = None) -> dict:
    """How many model actors and what each one (and each decode task) asks of Ray.

    ``nodes``: each node's resources (:func:`cluster_nodes`). One actor per GPU when the
    cluster has GPUs. Otherwise CPU actors of up to 4 cores, sized to fit the smallest node,
    leaving about a quarter of the cores to the decode stage; on one-core nodes the model
    and decoding share the core. ``actors`` sets the pool size. ``threads``: the model
    threads of each actor; a lone actor keeps all the cores of its node, as the local
    engine does (decoding is light beside the model).
    """
    gpus = sum(int(node.get("GPU", 0)) for node in nodes)
    node_cpus = [int(node.get("CPU", 0)) for node in nodes if node.get("CPU")] or [1]
    if gpus:  # a CPU per GPU actor where nodes have cores to spare for decoding
        spare = all(node.get("CPU", 0) >= 2 * node["GPU"] for node in nodes if node.get("GPU"))
        return {"size": actors or gpus, "num_cpus": 1 if spare else 0, "num_gpus": 1, "threads": None,
                "decode_cpus": 1}
    if max(node_cpus) < 2:
        return {"size": actors or len(node_cpus), "num_cpus": 0.5, "num_gpus": 0, "threads": None,
                "decode_cpus": 0.5}
    per_actor = max(1, min(4, min(c for c in node_cpus if c >= 2) // 2))
    total = sum(node_cpus)
    size = actors or max(1, (total - max(1, total // 4)) // per_actor)
    return {"size": size, "num_cpus": per_actor, "num_gpus": 0, "threads": per_actor if size > 1 else None,
            "decode_cpus": 1}


def classify_paths_ray(
    paths: Iterable[Path],
    classifier,
    batch_size: int = 16,
    workers: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_scan: Callable[[ScanResult, object], None] | None = None,
    on_decoded: Callable[[Path, object], None] | None = None,
    prefetch: int = 2,
    address: str | None = None,
    actors: int | None = None,
) -> Iterator[ScanResult]:
    """Yield one result per path, in order, computed on Ray Data; a drop-in for ``classify_paths``.

    ``workers`` caps the decode tasks running at once (default: Ray decides).
    ``on_scan`` and ``on_decoded`` need whole scans, which stay on the cluster: the driver
    decodes those files again for them (heat maps, DICOM answers, thumbnails), in order.
    ``should_stop`` is checked after every block of results. ``address`` and ``actors``:
    see :func:`connect` and :func:`actor_plan`.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        return
    ray = require_ray()
    if classifier.package.path is None:
        raise PneumonetError("the Ray engine needs a model loaded from a file")
    started = connect(address)
    try:
        _quiet_ray_data()
        plan = actor_plan(cluster_nodes(ray), actors)
        dataset = _dataset(ray, paths, classifier, batch_size, workers, plan)
        yield from _in_order(dataset, len(paths), should_stop, on_scan, on_decoded, prefetch)
    finally:
        if started:
            ray.shutdown()


def _dataset(ray, paths: list[Path], classifier, batch_size: int, workers: int | None, plan: dict):
    """The two-stage Ray Data pipeline over ``paths`` (lazy: nothing runs until iterated)."""
    from ray.data import ActorPoolStrategy

    batch_size = max(1, batch_size)
    items = [{"index": i, "path": str(p)} for i, p in enumerate(paths)]
    model_ref = ray.put(Path(classifier.package.path).read_bytes())
    subtype_path = classifier.subtype.path
    subtype_ref = [ray.put(Path(subtype_path).read_bytes())] if subtype_path is not None else None
    decoded = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch_size))).map_batches(
        decode_stage, batch_size=batch_size, num_cpus=plan["decode_cpus"], memory=DECODE_TASK_MEMORY,
        fn_kwargs={"threshold": classifier.threshold}, concurrency=workers or None,
    )
    return decoded.map_batches(
        ModelStage, batch_size=batch_size, compute=ActorPoolStrategy(size=plan["size"]),
        num_cpus=plan["num_cpus"], num_gpus=plan["num_gpus"] or None,
        fn_constructor_kwargs={
            "model": [model_ref], "model_hash": classifier.card.hash, "precision": classifier.precision,
            "batch_size": batch_size, "apply_calibration": classifier.apply_calibration, "version": __version__,
            "threads": plan["threads"], "accepted_ages": classifier.guard.accepted_ages, "subtype": subtype_ref,
        },
    )


def _in_order(dataset, total: int, should_stop, on_scan, on_decoded, prefetch: int) -> Iterator[ScanResult]:
    """Results of ``dataset`` in input order; whole-scan callbacks run here, on the driver."""
    pending: dict[int, ScanResult] = {}
    next_index = 0
    batches = dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=max(1, prefetch))
    try:
        for batch in _one_line_errors(batches):
            for index, blob in zip(batch["index"], batch["result"]):
                pending[int(index)] = pickle.loads(blob)
            while next_index in pending:
                result = pending.pop(next_index)
                next_index += 1
                _driver_callbacks(result, on_scan, on_decoded)
                yield result
            if should_stop():
                return
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if next_index != total:
        raise PneumonetError(f"the Ray engine returned {next_index} of {total} results")


def _one_line_errors(batches):
    """Ray's task and actor failures as one-line errors (the CLI prints them, exit 1)."""
    from ray.exceptions import RayError

    try:
        yield from batches
    except RayError as exc:
        cause = getattr(exc, "cause", None) or exc
        lines = [line for line in str(cause).strip().splitlines() if line.strip()]
        raise PneumonetError(f"the Ray engine failed: {lines[-1] if lines else type(cause).__name__}") from None


def _driver_callbacks(result: ScanResult, on_scan, on_decoded) -> None:
    if not result.ok or (on_scan is None and on_decoded is None):
        return

    try:
        scan = imaging.load_scan(result.path)  # through the package, as the local engine
    except PneumonetError:  # changed since the cluster read it: the result stands without extras
        return
    if on_decoded is not None:
        try:
            on_decoded(result.path, scan)
        except Exception:  # a thumbnail that fails must not fail the scan
            log.warning("on_decoded failed for %s", result.path.name, exc_info=True)
    if on_scan is not None:
        on_scan(result, scan)
