"""Folder prediction on Dask: the maps of one run as tasks on a cluster's workers.

``predict_paths(..., scheduler=SPEC)`` sends here. ``SPEC`` is ``processes:N`` (a
``LocalCluster`` of N worker processes on this machine, on 127.0.0.1) or the address of a
running scheduler (``tcp://host:8786``), whose workers must see the map and output folders
under the same paths (a shared file system) and have ebsdphase (and any architecture
plugin) installed.

Each worker loads the model once: the bundle's card and weights travel to the workers in a
:class:`ModelPlugin` (so remote workers need no copy of the model) and are built there when
the plugin is set up. A map takes two tasks: ``prepare`` (read, KAM, inputs; the result
stays on the worker) and then, grouped with others by the same :class:`Batcher` rule as a
local run, ``predict`` (one forward pass per batch, the map's files written atomically by
the worker). Equal batches make equal forward passes, so a Dask run writes the same
``.phases.png`` and ``.phases.h5`` arrays as a local one. Failures come back as one-line
outcomes; the driver writes ``fractions.csv`` and ``report.html``.

Dask (``distributed``) is optional: ``pip install "ebsdphase[dask]"``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning
from ebsdphase.prediction.folder import Batcher, MapOptions, MapOutcome, Prepared, predict_batch, prepare_map

INSTALL_HINT = 'pip install "ebsdphase[dask]"'

#: maps prepared ahead of the forward passes, per worker: enough to keep every worker busy,
#: few enough that a folder of thousands of maps does not sit in the workers' memory
AHEAD_PER_WORKER = 4


def _distributed():
    try:
        import distributed
    except ImportError:
        raise EbsdphaseError(f"scheduler=...: a Dask scheduler needs Dask's distributed package: {INSTALL_HINT}") \
            from None
    return distributed


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``("processes", N)`` or ``("address", "tcp://...")``; one-line error otherwise."""
    text = spec.strip()
    if text.startswith("processes:"):
        try:
            n = int(text.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise EbsdphaseError(f"scheduler={spec!r}: processes:N needs a number of workers N >= 1")
        return "processes", n
    if "://" in text:
        return "address", text
    raise EbsdphaseError(f"scheduler={spec!r}: expected local, processes:N or a scheduler address "
                         "(tcp://host:8786)")


def check_scheduler(spec: str) -> None:
    """Raise the one-line error a run on ``spec`` would end with (bad spec, no Dask)."""
    parse_scheduler(spec)
    _distributed()


try:  # the plugin base exists only where Dask is installed; without it no cluster is made
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - exercised by the missing-Dask test through _distributed()
    _PluginBase = object


class ModelPlugin(_PluginBase):
    """A Dask worker plugin carrying a bundle (card and weights as bytes); ``setup`` writes
    them to the worker's scratch folder and builds the network, once per worker."""

    #: registering a plugin of the same name (the same model, see _plugin_name) again on a
    #: running cluster leaves the loaded one in place
    idempotent = True

    def __init__(self, name: str, files: dict[str, bytes]) -> None:
        self.name_of_model = name
        self.files = files
        self.bundle = None
        self.loads = 0

    def setup(self, worker=None) -> None:  # noqa: ANN001 - a distributed.Worker
        from ebsdphase.models.bundle import load_bundle

        where = Path(tempfile.mkdtemp(prefix="ebsdphase-model-",
                                      dir=getattr(worker, "local_directory", None)))
        for fname, data in self.files.items():
            (where / fname).write_bytes(data)
        bundle = load_bundle(where / f"{self.name_of_model}.json")
        bundle.model  # noqa: B018 - build and load here, not in the first task
        self.bundle = bundle
        self.loads += 1

    def teardown(self, worker=None) -> None:  # noqa: ANN001
        self.bundle = None


def _plugin_name(bundle, files: dict[str, bytes]) -> str:
    """Names the model by its content, so a long-running cluster keeps a model loaded from
    one run to the next and never mistakes another model of the same name for it."""
    import hashlib

    digest = hashlib.sha256()
    for fname in sorted(files):
        digest.update(fname.encode() + b"\0" + files[fname])
    return f"ebsdphase-model-{bundle.name}-{digest.hexdigest()[:16]}"


def _worker_plugin(name: str) -> ModelPlugin:
    from distributed import get_worker

    return get_worker().plugins[name]


def _remote_prepare(plugin: str, stem: str, src: str) -> "Prepared | MapOutcome":
    """prepare_map on a worker, its warnings (a reader's, say) kept for the driver to show."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        item = prepare_map(_worker_plugin(plugin).bundle, stem, Path(src))
    item.warnings = [str(w.message) for w in caught]
    return item


def _remote_size(item: "Prepared | MapOutcome") -> "int | MapOutcome":
    """The pixels of a prepared map (for batching on the driver) or its failure."""
    return item if isinstance(item, MapOutcome) else item.pixels


def _remote_predict(plugin: str, opts: MapOptions, *batch: Prepared) -> tuple[list[MapOutcome], str, int]:
    from distributed import get_worker

    p = _worker_plugin(plugin)
    return predict_batch(p.bundle, list(batch), opts), get_worker().address, p.loads


def _can_see(src: str, out: str) -> str | None:
    """On a worker: why it cannot read ``src`` or write into ``out`` (None: it can)."""
    if not os.access(src, os.R_OK):
        return f"cannot read {src}"
    if not os.access(out, os.W_OK):
        return f"cannot write into {out}"
    return None


def _check_workers_see(client, maps: Sequence[tuple[str, Path]], out: Path) -> None:
    """One line before any work when a worker does not share our file system."""
    problems = client.run(_can_see, str(maps[0][1]), str(out))
    for address, why in sorted(problems.items()):
        if why:
            raise EbsdphaseError(f"Dask worker {address} {why}: the workers need the maps and the output "
                                 "folder under the same paths as here (a shared file system)")


def _bundle_files(bundle) -> dict[str, bytes]:
    return {bundle.card_path.name: bundle.card_path.read_bytes(),
            bundle.weights_path.name: bundle.weights_path.read_bytes()}


def worker_env(n_workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment of the worker processes of ``processes:N``: with as many workers as
    cores or more, each computes on one thread, so that XLA's and numba's thread pools do
    not fight over the cores (benchmarks/bench_scale.py, 2 workers on 2 cores: a cold run
    48 s -> 37-40 s, a warm one 0.72 -> 0.73-0.74 of the local run's throughput)."""
    cores = cores or os.cpu_count() or 1
    if n_workers < cores:
        return {}
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
             "intra_op_parallelism_threads=1").strip()
    return {"XLA_FLAGS": flags, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _connect(spec: str):
    """A client (and the LocalCluster it owns, or None)."""
    distributed = _distributed()
    kind, value = parse_scheduler(spec)
    if kind == "processes":
        # worker processes inherit this: N JAX processes on one GPU must not each take 75 % of it
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        cluster = distributed.LocalCluster(n_workers=int(value), threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=logging.ERROR, env=worker_env(int(value)))
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(str(value), timeout="10s"), None
    except (OSError, TimeoutError) as exc:
        raise EbsdphaseError(f"scheduler={spec!r}: cannot reach the Dask scheduler ({exc})") from None


def predict_on_cluster(spec: str, bundle, maps: Sequence[tuple[str, Path]], opts: MapOptions,
                       record: Callable[[MapOutcome], None]) -> dict[str, int]:
    """Predict ``maps`` on the Dask cluster ``spec``; ``record`` each outcome as it arrives
    (in completion order). Returns {worker address: times that worker loaded the model}."""
    from ebsdphase.core.atomic import OutputError

    distributed = _distributed()
    client, cluster = _connect(spec)
    workers: dict[str, int] = {}
    try:
        _check_workers_see(client, maps, opts.out)
        files = _bundle_files(bundle)
        name = _plugin_name(bundle, files)
        try:  # idempotent: workers that already hold this model (an earlier run) keep it
            client.register_plugin(ModelPlugin(bundle.name, files), name=name)
        except Exception as exc:  # noqa: BLE001 - whatever a worker raised while loading the model
            raise EbsdphaseError(f"scheduler={spec!r}: a worker could not load model {bundle.name!r} "
                                 f"({type(exc).__name__}: {exc})") from None
        ahead = AHEAD_PER_WORKER * max(1, len(client.scheduler_info().get("workers", {})))
        batcher = Batcher(opts.batch_pixels, opts.one_by_one)
        queue = deque(maps)
        prepared: deque = deque()       # (stem, src, prepare future, size future), input order
        batches: dict[str, list] = {}   # predict future key -> its maps
        done = distributed.as_completed()
        sent = 0                        # maps in predict tasks not yet collected

        def submit_reads() -> None:
            # maps waiting in the batcher are not counted: they are at most batch_pixels
            while queue and len(prepared) + sent < ahead:
                stem, src = queue.popleft()
                fut = client.submit(_remote_prepare, name, stem, str(src), pure=False)
                prepared.append((stem, src, fut, client.submit(_remote_size, fut, pure=False)))

        def send(batch: list) -> None:
            nonlocal sent
            fut = client.submit(_remote_predict, name, opts, *[f for _, _, f in batch], pure=False)
            batches[fut.key] = batch
            sent += len(batch)
            done.add(fut)

        def collect(future) -> None:
            nonlocal sent
            batch = batches.pop(future.key)
            sent -= len(batch)
            try:
                outcomes, address, loads = future.result()
                workers[address] = loads
            except OutputError:
                raise
            except Exception as exc:  # noqa: BLE001 - a worker died or the task broke
                outcomes = [MapOutcome.failed(stem, src, exc) for stem, src, _ in batch]
            for o in outcomes:
                accept(o)

        def accept(o: MapOutcome) -> None:
            for text in o.warnings:  # raised on a worker: shown here, where the user is
                warnings.warn(text, EbsdphaseWarning, stacklevel=2)
            record(o)

        submit_reads()
        while prepared or queue:
            if not prepared:  # the window is full of forward passes: wait for one
                collect(next(done))
                submit_reads()
                continue
            stem, src, fut, size_fut = prepared.popleft()
            try:
                size = size_fut.result()
            except Exception as exc:  # noqa: BLE001 - the worker died (KilledWorker) or the task broke
                size = MapOutcome.failed(stem, src, exc)
            if isinstance(size, MapOutcome):
                accept(size)
            else:
                for batch in batcher.add((stem, src, fut), size):
                    send(batch)
            while done.has_ready():
                for f in done.next_batch(block=False):
                    collect(f)
            submit_reads()
        for batch in batcher.finish():
            send(batch)
        for f in done:
            collect(f)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return workers


__all__ = ["predict_on_cluster", "parse_scheduler", "check_scheduler", "ModelPlugin", "INSTALL_HINT"]
