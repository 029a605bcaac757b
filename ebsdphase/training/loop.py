"""Training: a network from the architecture registry fitted on a prepared dataset file.

``train(dataset, run_dir, ...)`` streams batches of crops from the HDF5 dataset (see the
dataset contract), minimises the categorical cross-entropy with unlabelled pixels (255)
given zero weight, keeps the best-validation model as a bundle, stops early when the
monitored metric stops improving, and writes, in ``run_dir``::

    <name>.json + <name>.weights.h5   the best-validation model bundle
    history.csv                       one row per epoch (loss, accuracy, val_*, seconds)
    curves.png                        accuracy and loss per epoch (like the paper's Fig. 5)
    report.html                       the epochs, the curves and the card on one page
    train.json                        the settings of the run (read back by resume)
    checkpoint/state.npz              weights, optimizer and RNG state of the last epoch
    epochs/epoch-NNN/                 with keep_epochs: every epoch's model bundle

An interrupted run continues with ``resume=True`` and ends with the same weights as an
uninterrupted one: the crop order of epoch ``e`` is a function of ``(seed, e)`` only, and
the checkpoint holds every variable that changes while training (weights, optimizer
accumulators and the dropout layers' random-generator states).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ebsdphase.core.atomic import atomic_path, write_text_atomic
from ebsdphase.core.classes import UNLABELLED
from ebsdphase.dataset.io import open_dataset
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.features import QUALITY_GAIN, QUAT_LABELS
from ebsdphase.models.bundle import SMOOTH_MODES
from ebsdphase.training.border import BORDER_SIGMA, border_weights

OPTIMIZERS = ("adadelta", "adam")
#: Keras 2's Adadelta defaults (the paper's setting); Keras 3 lowered the rate to 0.001,
#: which barely moves a U-Net in 30 epochs.
DEFAULT_LR = {"adadelta": 1.0, "adam": 1e-3}
MONITORS = {"val_loss": "min", "val_accuracy": "max", "val_balanced_accuracy": "max", "loss": "min",
            "accuracy": "max"}
CLASS_WEIGHTS = ("balanced", "none")
CHECKPOINT = Path("checkpoint") / "state.npz"
CONFIG = "train.json"
EPOCHS = "epochs"


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    bundle: Path | None           # card of the best-validation model
    best_epoch: int | None        # 1-based
    best_value: float | None
    epochs_run: int               # epochs completed in total (resumed runs included)
    stopped_early: bool
    history: list[dict] = field(default_factory=list)


# -- the dataset file ------------------------------------------------------------------


def _split(ds, name: str, path: Path):
    """(inputs, labels) of split ``name``, or (None, None) when it is absent or empty."""
    try:
        inputs, labels = ds.split(name)
    except (KeyError, EbsdphaseError):  # no such split, or a split group without its arrays
        return None, None
    if len(inputs) == 0:
        return None, None
    if inputs.ndim != 4 or labels.shape != inputs.shape[:3]:
        raise EbsdphaseError(f"{path}: /{name} inputs {inputs.shape} and labels {labels.shape} do not match "
                             "(expects (N, H, W, C) and (N, H, W))")
    return inputs, labels


# -- batches ---------------------------------------------------------------------------


def class_weights(labels, n_classes: int, chunk: int = 64) -> np.ndarray:
    """(n_classes,) pixel weights that give every class the same total weight in the loss
    (inverse frequency, scaled so the labelled pixels weigh 1 on average); a class absent
    from ``labels`` gets weight 1."""
    counts = np.zeros(n_classes, np.int64)
    for i in range(0, len(labels), chunk):
        counts += np.bincount(np.asarray(labels[i:i + chunk]).ravel(), minlength=256)[:n_classes]
    present = counts > 0
    w = np.ones(n_classes, np.float64)
    w[present] = counts[present].sum() / (present.sum() * counts[present])
    return w.astype(np.float32)


def _dihedral(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each crop of a batch turned by one of the 8 symmetries of the square, drawn afresh.
    Only for inputs whose values do not depend on the grid's orientation (scalar channels,
    KAM); quaternion inputs would have to turn with the grid (``prepare`` does that)."""
    x, y = x.copy(), y.copy()
    for i, code in enumerate(rng.integers(0, 8, len(x))):
        k, flip = int(code) % 4, code >= 4
        xi, yi = np.rot90(x[i], k, axes=(0, 1)), np.rot90(y[i], k, axes=(0, 1))
        if flip:
            xi, yi = xi[:, ::-1], yi[:, ::-1]
        x[i], y[i] = xi, yi
    return x, y


def _random_orientations(x: np.ndarray, channels: list[int], rng: np.random.Generator,
                         grain_angle: float) -> None:
    """In place: each crop's quaternion ``channels`` as a random sample rotation of the same
    crop would give them. Phase identity hangs on misorientations, grain shapes and sizes,
    which a sample rotation keeps; the absolute orientations of a few training maps would
    otherwise be there to memorise. With it a turn of the grid (the square's symmetries)
    needs no matching turn of the orientations: both are random. The grains are re-seeded
    with the cubic group (m-3m): ferrite and martensite are both cubic, and a dataset does
    not record its phases' Laue classes."""
    from ebsdphase.crystal import rotate_homogenized

    for i in range(len(x)):
        r = rng.normal(size=4)
        x[i][..., channels] = rotate_homogenized(x[i][..., channels], r / np.linalg.norm(r), grain_angle)


def applied_settings(config: dict) -> dict:
    """The settings that shape what a model relies on, as a run applies them: a run written
    before an option existed ran without it (no class weights, the default gain, no own
    scale), whatever today's defaults are. One place for the loop and the card."""
    return {"class_weight": config.get("class_weight", "none"),
            "quality_gain": float(config.get("quality_gain", QUALITY_GAIN)),
            "own_scale": float(config.get("own_scale", 0.0)),
            "quality_dropout": float(config.get("quality_dropout", 0.0)),
            "random_orientation": bool(config.get("random_orientation", False)),
            "border_weight": float(config.get("border_weight", 0.0)),
            "border_sigma": float(config.get("border_sigma", BORDER_SIGMA))}


def _check_init_recipe(bundle, recipe: dict, transfer: bool) -> bool:
    """``init`` weights must have read the dataset's channels (``recipe``: the dataset's
    ``ChannelRecipe.to_dict()``); with ``transfer``, other
    channels (as many, checked by the caller) built the same way: only their names differ.
    True when the weights are transferred (the names differ), so the card says so only then."""
    # both as the recipe class writes them (``recipe`` is the dataset's, already so), so a card
    # that spells a default out reads as one that omits it
    ours, theirs = dict(recipe), bundle.recipe.to_dict()
    names, init_names = list(ours.pop("names", [])), list(theirs.pop("names", []))
    if names == init_names:
        return False
    if ours != theirs:
        changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        raise EbsdphaseError(f"init={bundle.name!r}: the model was trained on channels {init_names} built "
                             f"otherwise ({', '.join(changed)} differ); the dataset has {names}")
    if not transfer:
        raise EbsdphaseError(f"init={bundle.name!r}: the model was trained on channels {init_names}, the "
                             f"dataset has {names} (transfer=True / --transfer to start from it anyway)")
    return True


def _make_batches(inputs, labels, n_classes: int, batch_size: int, seed: int, shuffle: bool,
                  jitter: list[int] | None = None, weights: np.ndarray | None = None,
                  dihedral: bool = False, devices: int = 1, gain: float = QUALITY_GAIN,
                  own: float = 0.0, orient: list[int] | None = None, grain_angle: float = 3.0,
                  flat: float = 0.0, border: float = 0.0, border_sigma: float = BORDER_SIGMA):
    """Keras batches; ``jitter``: input channels given a random gain per crop (training of
    percentile-scaled quality channels, in [1/gain, gain], see
    :func:`ebsdphase.features.relative_jitter`); ``own``: the share of crops whose ``jitter``
    channels are first re-scaled over the crop's own percentile (:func:`ebsdphase.features.own_scale`);
    ``flat``: the share of crops whose ``jitter`` channels are flattened to their median
    (:func:`ebsdphase.features.flatten_quality`);
    ``weights``: per-class pixel weights of the loss; ``border``: pixels near another class
    weigh up to ``1 + border`` times more (:func:`ebsdphase.training.border.border_weights`,
    band ``border_sigma`` pixels); ``dihedral``: every crop turned by a
    random symmetry of the square each epoch (square crops only); ``orient``: the four
    quaternion channels of each crop turned by a random sample rotation (uniform over all
    rotations) and re-homogenised (:func:`ebsdphase.crystal.rotate_homogenized`, grains
    within ``grain_angle``), after the square's symmetry; ``devices``: a last,
    short batch is padded to a multiple of the device count with copies of its first crops
    that weigh nothing (data parallelism splits every batch evenly; no crop is left out)."""
    import keras

    from ebsdphase.features import flatten_quality, own_scale, relative_jitter

    class CropBatches(keras.utils.PyDataset):
        """Batches of crops read from the HDF5 file on demand; unlabelled pixels weigh 0."""

        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0  # set by the run keeper before each epoch

        def __len__(self) -> int:
            return math.ceil(len(inputs) / batch_size)

        def _order(self) -> np.ndarray:
            if not shuffle:
                return np.arange(len(inputs))
            # a function of (seed, epoch) only, so a resumed run sees the same order
            return np.random.default_rng([seed, self.epoch]).permutation(len(inputs))

        def __getitem__(self, index: int):
            idx = np.sort(self._order()[index * batch_size:(index + 1) * batch_size])
            real = len(idx)
            if devices > 1 and real % devices:
                idx = np.concatenate([idx, np.resize(idx, (-real) % devices)])
            x = np.asarray(inputs[idx.tolist()], dtype=np.float32)
            if jitter and own > 0:
                own_scale(x, jitter, np.random.default_rng([seed, self.epoch, index, 13]), own)
            if jitter and gain > 1:  # gain 1: neither gain nor offset
                relative_jitter(x, jitter, np.random.default_rng([seed, self.epoch, index, 7]), gain=gain)
            if jitter and flat > 0:
                flatten_quality(x, jitter, np.random.default_rng([seed, self.epoch, index, 19]), flat)
            y = np.asarray(labels[idx.tolist()])
            if dihedral:
                x, y = _dihedral(x, y, np.random.default_rng([seed, self.epoch, index, 11]))
            if orient:
                _random_orientations(x, orient, np.random.default_rng([seed, self.epoch, index, 17]), grain_angle)
            known = y != UNLABELLED
            if np.any(y[known] >= n_classes):
                raise EbsdphaseError(f"label {int(y[known].max())} in the dataset but only {n_classes} classes")
            cls = np.where(known, y, 0)
            onehot = np.eye(n_classes, dtype=np.float32)[cls]
            sample_weight = known.astype(np.float32)
            if weights is not None:
                sample_weight *= weights[cls]
            if border > 0:
                sample_weight *= border_weights(y, border, border_sigma)
            # the padding of a short batch (see ``devices``) weighs nothing; keras still averages
            # that batch's loss over the padded count, so its step is a little shorter
            sample_weight[real:] = 0.0
            return x, onehot, sample_weight

    return CropBatches()


# -- callbacks ---------------------------------------------------------------------------


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


def _state_arrays(model) -> dict[str, np.ndarray]:
    arrays = {f"model/{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)})
    return arrays


def _restore_state(model, arrays: dict[str, np.ndarray], path: Path) -> None:
    model.optimizer.build(model.trainable_variables)
    for prefix, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
        n = sum(1 for k in arrays if k.startswith(prefix + "/"))
        if n != len(variables):
            raise EbsdphaseError(f"{path}: checkpoint holds {n} {prefix} variables, the network has "
                                 f"{len(variables)} (was the architecture changed?)")
        for i, v in enumerate(variables):
            value = arrays[f"{prefix}/{i}"]
            if tuple(value.shape) != tuple(v.shape):
                raise EbsdphaseError(f"{path}: {prefix} variable {v.path} has shape {value.shape} in the "
                                     f"checkpoint, {tuple(v.shape)} in the network")
            v.assign(value)


def _write_history(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _run_keeper(run: "_Run"):
    base = _keras_callback_base()

    class RunKeeper(base):
        """Per epoch: history, best bundle, early stopping, then the checkpoint (last, so a
        checkpoint on disk always matches everything written before it)."""

        def on_epoch_begin(self, epoch, logs=None):
            run.train_batches.epoch = epoch
            run.epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            model = self.model  # under JAX this syncs the training state into the variables
            row = {"epoch": epoch + 1}
            row.update({k: float(v) for k, v in sorted((logs or {}).items())
                        if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
            if run.val_batches is not None:
                row["val_balanced_accuracy"] = _balanced_accuracy(model, run.val_batches)
            row["seconds"] = round(time.perf_counter() - run.epoch_started, 3)
            run.history.append(row)
            _write_history(run.run_dir / "history.csv", run.history)

            value = row.get(run.monitor)
            if value is None or not math.isfinite(value):
                raise EbsdphaseError(f"epoch {epoch + 1}: {run.monitor} is {value}; training diverged "
                                     "(try a lower learning_rate=LR, or optimizer=adam)")
            better = (run.best_value is None
                      or (value < run.best_value if run.mode == "min" else value > run.best_value))
            if better:
                run.best_value, run.best_epoch, run.wait = value, epoch + 1, 0
                run.save_bundle(model, row, run.run_dir)
            else:
                run.wait += 1
            if run.patience and run.wait >= run.patience:
                run.stopped_early = True
                model.stop_training = True
            if run.config.get("keep_epochs"):
                run.save_bundle(model, row, run.run_dir / EPOCHS / f"epoch-{epoch + 1:03d}")
            run.save_checkpoint(model, epoch + 1)

    return RunKeeper()


def _balanced_accuracy(model, batches) -> float:
    """Mean recall of the classes over the labelled pixels of ``batches`` (unweighted)."""
    from ebsdphase.evaluation.metrics import confusion_matrix

    cm = None
    for i in range(len(batches)):
        x, onehot, weight = batches[i]
        pred = np.asarray(model.predict_on_batch(x)).argmax(-1)
        truth = np.where(np.asarray(weight) > 0, onehot.argmax(-1), UNLABELLED)  # padding and 255: out
        part, _ = confusion_matrix(truth, pred, onehot.shape[-1])
        cm = part if cm is None else cm + part
    if cm is None:
        return float("nan")
    rows = cm.sum(axis=1)
    recall = np.diag(cm)[rows > 0] / rows[rows > 0]
    return float(recall.mean()) if recall.size else float("nan")


def _rich_progress(total_epochs: int, steps: int):
    base = _keras_callback_base()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    class RichProgress(base):
        """A rich progress bar per epoch, with the running loss and accuracy."""

        def __init__(self) -> None:
            super().__init__()
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self.task = None

        def on_train_begin(self, logs=None):
            self.progress.start()

        def on_epoch_begin(self, epoch, logs=None):
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task(f"epoch {epoch + 1}/{total_epochs}", total=steps, metrics="")

        def on_train_batch_end(self, batch, logs=None):
            text = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k in ("loss", "accuracy"))
            self.progress.update(self.task, completed=batch + 1, metrics=text)

        def on_epoch_end(self, epoch, logs=None):
            text = "  ".join(f"{k} {float(v):.4f}" for k, v in sorted((logs or {}).items())
                             if k in ("loss", "accuracy", "val_loss", "val_accuracy"))
            self.progress.update(self.task, completed=steps, metrics=text)
            self.progress.console.print(f"epoch {epoch + 1}/{total_epochs}  {text}", highlight=False)

        def on_train_end(self, logs=None):
            self.progress.stop()

    return RichProgress()


# -- the run ---------------------------------------------------------------------------


@dataclass
class _Run:
    run_dir: Path
    name: str
    architecture: str
    params: dict
    recipe: dict
    classes: dict
    training_ranges: dict
    monitor: str
    mode: str
    patience: int
    config: dict
    train_batches: Any = None
    val_batches: Any = None
    history: list = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_early: bool = False
    epoch_started: float = 0.0

    def save_bundle(self, model, row: dict, folder: Path) -> None:
        """The model as it is at the end of epoch ``row['epoch']``, as a bundle in ``folder``."""
        from ebsdphase.models.bundle import save_bundle

        metrics = {k: v for k, v in row.items() if k not in ("seconds",)}
        save_bundle(model, folder, self.name, self.architecture, self.params, self.recipe, self.classes,
                    provenance={"dataset": self.config["dataset"], "run_dir": str(self.run_dir),
                                "epoch": row["epoch"], "optimizer": self.config["optimizer"],
                                "learning_rate": self.config["learning_rate"],
                                "lr_steps": self.config.get("lr_steps", []),
                                "batch_size": self.config["batch_size"], "seed": self.config["seed"],
                                "init": self.config.get("init"),
                                **({"transfer": True} if self.config.get("transfer") else {}),
                                **applied_settings(self.config)},
                    metrics=metrics, training_ranges=self.training_ranges,
                    smooth=self.config.get("smooth"))

    def save_checkpoint(self, model, epochs_done: int) -> None:
        meta = {"epochs_done": epochs_done, "history": self.history, "best_value": self.best_value,
                "best_epoch": self.best_epoch, "wait": self.wait, "stopped_early": self.stopped_early}
        arrays = _state_arrays(model)
        arrays["meta"] = np.array(json.dumps(meta))
        path = self.run_dir / CHECKPOINT
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def load_checkpoint(self, model) -> int:
        path = self.run_dir / CHECKPOINT
        if not path.exists():
            raise EbsdphaseError(f"{path}: no checkpoint to resume from")
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:
            raise EbsdphaseError(f"{path}: unreadable checkpoint ({exc})") from None
        _restore_state(model, arrays, path)
        self.history = meta["history"]
        self.best_value, self.best_epoch = meta["best_value"], meta["best_epoch"]
        # derived, not read: a run resumed under a new patience is stopped only if it has
        # waited that long already
        self.wait = meta["wait"]
        self.stopped_early = bool(self.patience) and self.wait >= self.patience
        return int(meta["epochs_done"])


#: what a run writes before its first checkpoint (and the report, remade from the history)
# (not the kept epochs: a run has saved its best bundle before its first one, so a folder
# holding them has started, and a resume without checkpoint must not wipe them)
_EARLY_FILES = {CONFIG, "history.csv", "curves.png", "report.html", "checkpoint"}


def _unstarted_run(run_dir: Path) -> bool:
    """True for a run folder holding only what a run writes before its first checkpoint
    (a run killed during its first epoch): nothing in it is worth keeping."""
    if not run_dir.is_dir() or not (run_dir / CONFIG).exists() or (run_dir / CHECKPOINT).exists():
        return False
    names = {p.name for p in run_dir.iterdir() if not p.name.startswith(".")}
    return names <= _EARLY_FILES


def _clear_unstarted(run_dir: Path) -> None:
    import shutil

    for name in _EARLY_FILES:
        p = run_dir / name
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()


def learning_rate_at(config: dict, epoch: int) -> float:
    """The learning rate of 0-based ``epoch``: the run's, or that of the last step
    (``lr_steps``: [first epoch, rate] pairs, added by resuming with a new rate) begun by then."""
    rate = float(config["learning_rate"])
    for first, value in config.get("lr_steps", []):
        if epoch >= first:
            rate = float(value)
    return rate


def _optimizer(name: str, learning_rate: float):
    import keras

    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=0.95, epsilon=1e-7)
    return keras.optimizers.Adam(learning_rate=learning_rate)


def train(dataset: str | os.PathLike, run_dir: str | os.PathLike, *, architecture: str | None = None,
          params: dict | None = None, epochs: int | None = None, batch_size: int = 8,
          optimizer: str = "adam", learning_rate: float | None = None, seed: int = 0,
          patience: int | None = None, monitor: str = "val_balanced_accuracy", name: str | None = None,
          resume: bool = False, init: Any = None, progress: bool = False,
          class_weight: str = "balanced", dihedral: bool = True, smooth: str | None = "grains",
          distribute: bool = False, quality_gain: float = QUALITY_GAIN, own_scale: float = 0.0,
          random_orientation: bool = False, keep_epochs: bool = False, quality_dropout: float = 0.0,
          border_weight: float = 0.0, border_sigma: float = BORDER_SIGMA, transfer: bool = False,
          callbacks: list | None = None) -> TrainResult:
    """Train a network on a prepared dataset file; see the module docstring for the outputs.

    ``architecture`` (default ``"unet"``, or the ``init`` model's) and ``params`` choose the
    network; ``init`` (a bundle, path or pretrained name) starts from trained weights
    (fine-tuning); with ``transfer`` it may have been trained on other channels, as many and
    built the same way (e.g. the band-slope model's weights for a band-contrast model: one
    pattern-quality signal, read off another detector output). ``resume=True`` continues the run in ``run_dir`` with the settings saved
    there; only ``epochs``, ``patience`` and ``learning_rate`` may be changed (a run stopped
    early by its patience goes on when both are raised; a new learning rate applies from the
    next epoch on and is kept in ``train.json`` as a step, ``lr_steps``, so a later resume
    replays it). ``patience`` epochs without improvement of
    ``monitor`` stop the run (default 10; 0 = never). ``distribute`` trains data-parallel over every
    visible device (JAX backend; ``batch_size`` is the global batch, a multiple of the
    device count). ``quality_gain``: each training crop's percentile-scaled quality channels
    are multiplied by a random gain in [1/quality_gain, quality_gain] (1: none), so that the
    network decides on contrast rather than on one level of its map's scale (which moves
    a little with the phase balance); ``own_scale``: the share of training crops whose quality
    channels are re-scaled over the crop's own 98th percentile first, as a crop or a
    one-phase map is at prediction (0: none); ``quality_dropout``: the share of training crops
    whose quality channels are flattened to their median (the pattern removed, the level
    kept), so that the network also learns the phase without it (0: none); ``border_weight``:
    pixels near a pixel of another class weigh up to ``1 + border_weight`` times more in the
    loss, within a band of about ``border_sigma`` pixels (:mod:`ebsdphase.training.border`;
    0: none), so that phase borders and small islands count for more than their pixels;
    ``random_orientation``: quaternion inputs of
    each training crop turned by a random sample rotation (and the crop by a random symmetry
    of the square), so that the network learns from misorientations and grain shapes, not
    from the absolute orientations of its training maps. ``keep_epochs``: every epoch's model
    also kept as a bundle in ``run_dir/epochs/epoch-NNN`` (to choose an epoch on a measure of
    one's own, e.g. whole validation maps, rather than on the validation crops; on resume the
    run's own choice holds). Extra keras ``callbacks`` run after ours.
    """
    import ebsdphase
    import ebsdphase.models  # noqa: F401 - chooses the keras backend before keras loads
    import keras

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.models.registry import get_architecture

    import warnings

    from ebsdphase.core.errors import EbsdphaseWarning

    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG
    unfinished = _unstarted_run(run_dir)
    new_lr = None
    if resume:
        if not config_path.exists():
            raise EbsdphaseError(f"{run_dir}: no run to resume ({CONFIG} missing)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if epochs is not None:
            config["epochs"] = int(epochs)
        if patience is not None:
            config["patience"] = int(patience)
        # a new rate on resume: a step from the epoch the checkpoint ends at (set in _fit)
        new_lr = float(learning_rate) if learning_rate is not None else None
        if not (run_dir / CHECKPOINT).exists():
            # killed before its first epoch ended: nothing to continue, the saved settings restart it
            warnings.warn(f"{run_dir}: no checkpoint yet (the run stopped before its first epoch ended); "
                          "starting it afresh with its saved settings", EbsdphaseWarning, stacklevel=2)
            _clear_unstarted(run_dir)
            resume, init = False, config.get("init")
    else:
        if unfinished:
            warnings.warn(f"{run_dir}: holds a run that stopped before its first checkpoint; starting afresh",
                          EbsdphaseWarning, stacklevel=2)
            _clear_unstarted(run_dir)
        elif run_dir.exists() and any(run_dir.iterdir()):
            raise EbsdphaseError(f"{run_dir}: folder is not empty; use resume=True to continue the run "
                                 "there or choose another output folder")
        if optimizer not in OPTIMIZERS:
            raise EbsdphaseError(f"unknown optimizer {optimizer!r} (choose {', '.join(OPTIMIZERS)})")
        if monitor not in MONITORS:
            raise EbsdphaseError(f"cannot monitor {monitor!r} (choose {', '.join(MONITORS)})")
        if class_weight not in CLASS_WEIGHTS:
            raise EbsdphaseError(f"class_weight={class_weight!r}: choose {', '.join(CLASS_WEIGHTS)}")
        init_bundle = load_bundle(init) if init is not None else None
        if transfer and init_bundle is None:
            raise EbsdphaseError("transfer needs init: the model whose weights to start from")
        if init_bundle is not None:
            if architecture not in (None, init_bundle.architecture):
                raise EbsdphaseError(f"init={init_bundle.name!r}: the model is a {init_bundle.architecture}, "
                                     f"not a {architecture}")
            architecture = init_bundle.architecture
            params = {**init_bundle.params, **(params or {})}
        architecture = architecture or "unet"
        arch = get_architecture(architecture)
        config = {
            "dataset": str(Path(dataset).resolve()),
            "architecture": architecture,
            "params": arch.resolve(params),
            "epochs": int(epochs if epochs is not None else 30),
            "batch_size": int(batch_size),
            "optimizer": optimizer,
            "learning_rate": float(learning_rate if learning_rate is not None else DEFAULT_LR[optimizer]),
            "seed": int(seed),
            "patience": int(patience if patience is not None else 10),
            "monitor": monitor,
            "class_weight": class_weight,
            "dihedral": bool(dihedral),
            "quality_gain": float(quality_gain),
            "own_scale": float(own_scale),
            "quality_dropout": float(quality_dropout),
            "border_weight": float(border_weight),
            "border_sigma": float(border_sigma),
            "random_orientation": bool(random_orientation),
            "keep_epochs": bool(keep_epochs),
            "smooth": None if smooth in (None, "none") else smooth,
            "name": name or run_dir.resolve().name,
            "init": str(init_bundle.card_path) if init_bundle is not None else None,
            "transfer": bool(transfer),
            "keras_backend": keras.backend.backend(),
            "ebsdphase_version": ebsdphase.__version__,
        }
        if config["name"] in ("train", "history", "curves", "checkpoint"):
            raise EbsdphaseError(f"model name {config['name']!r} clashes with the run's own files; pass name=NAME")
        if config["batch_size"] < 1 or config["epochs"] < 1:
            raise EbsdphaseError(f"batch_size={config['batch_size']} and epochs={config['epochs']}: both must be at least 1")
        if not 1.0 <= config["quality_gain"] <= 4.0:
            raise EbsdphaseError(f"quality_gain={config['quality_gain']}: choose a gain from 1 (none) to 4")
        if not 0.0 <= config["own_scale"] <= 1.0:
            raise EbsdphaseError(f"own_scale={config['own_scale']}: choose a share of the crops from 0 to 1")
        if not 0.0 <= config["quality_dropout"] < 1.0:
            raise EbsdphaseError(f"quality_dropout={config['quality_dropout']}: choose a share of the crops "
                                 "from 0 to under 1")
        if not 0.0 <= config["border_weight"] <= 100.0:
            raise EbsdphaseError(f"border_weight={config['border_weight']}: choose a weight from 0 (none) to 100")
        if not 0.5 <= config["border_sigma"] <= 64.0:
            raise EbsdphaseError(f"border_sigma={config['border_sigma']}: choose a band from 0.5 to 64 pixels")
        if config["smooth"] is not None and config["smooth"] not in SMOOTH_MODES:
            raise EbsdphaseError(f"smooth={config['smooth']!r}: choose {', '.join(SMOOTH_MODES)} or none")

    # a resumed run (or one restarted from its saved settings) keeps its own choice
    config.setdefault("distribute", bool(distribute))
    dataset_path = Path(config["dataset"])
    if not config.get("distribute"):
        config["devices"] = 1
        with open_dataset(dataset_path) as ds:
            return _fit(ds, dataset_path, run_dir, config, resume, init, progress, callbacks or [], new_lr)
    dist, devices = _data_parallel(config["batch_size"])
    if resume and config.get("devices") not in (None, devices):
        warnings.warn(f"{run_dir}: the run was trained on {config['devices']} devices and resumes on {devices}: "
                      "its short batches are padded differently, so it will not end exactly as an "
                      "uninterrupted run", EbsdphaseWarning, stacklevel=2)
    config["devices"] = devices
    with dist.scope(), open_dataset(dataset_path) as ds:
        return _fit(ds, dataset_path, run_dir, config, resume, init, progress, callbacks or [], new_lr)


def _data_parallel(batch_size: int):
    """Keras 3's data parallelism over every visible device (GPUs, TPUs, else the CPU's
    devices): each batch split evenly over them, the weights replicated."""
    import keras

    if keras.backend.backend() != "jax":
        raise EbsdphaseError(f"distribute=True: needs the JAX backend (KERAS_BACKEND=jax); this run uses "
                             f"{keras.backend.backend()}")
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise EbsdphaseError(f"batch_size={batch_size}: must be a multiple of the {len(devices)} devices that "
                             "distribute=True splits every batch over")
    return keras.distribution.DataParallel(devices=devices), len(devices)


def _fit(ds, dataset_path: Path, run_dir: Path, config: dict, resume: bool, init: Any,
         progress: bool, extra_callbacks: list, new_lr: float | None = None) -> TrainResult:
    import keras

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.models.registry import get_architecture

    train_x, train_y = _split(ds, "train", dataset_path)
    if train_x is None:
        raise EbsdphaseError(f"{dataset_path}: no training crops (/train is empty)")
    val_x, val_y = _split(ds, "val", dataset_path)
    recipe, classes = ds.recipe.to_dict(), ds.classes.to_dict()
    labels_in = ds.recipe.channel_labels()
    quats = [labels_in.index(c) for c in QUAT_LABELS if c in labels_in]
    if applied_settings(config)["random_orientation"] and not quats:
        raise EbsdphaseError(f"{dataset_path}: random_orientation turns quaternion inputs, and the dataset has none "
                             f"(channels {recipe.get('names')})")
    n_classes = len(classes["classes"])
    channels = int(train_x.shape[-1])

    arch = get_architecture(config["architecture"])
    multiple = arch.multiple(config["params"])
    if train_x.shape[1] % multiple or train_x.shape[2] % multiple:
        raise EbsdphaseError(f"{dataset_path}: crops of {train_x.shape[1]} x {train_x.shape[2]} are not multiples "
                             f"of {multiple}, which {config['architecture']} {config['params']} needs")
    monitor = config["monitor"]
    if val_x is None and monitor.startswith("val_"):
        # no validation split: fall back to the training metric (loss for balanced accuracy)
        monitor = "loss" if monitor == "val_balanced_accuracy" else monitor[4:]

    keras.utils.set_random_seed(config["seed"])
    model = arch.create(channels, n_classes, config["params"])
    if init is not None and not resume:
        bundle = load_bundle(init)
        if bundle.input_channels != channels or bundle.n_classes != n_classes:
            raise EbsdphaseError(f"init={bundle.name!r}: the model takes {bundle.input_channels} channels and gives "
                                 f"{bundle.n_classes} classes; the dataset has {channels} and {n_classes}")
        config["transfer"] = _check_init_recipe(bundle, recipe, bool(config.get("transfer")))
        model.set_weights(bundle.model.get_weights())
    model.compile(optimizer=_optimizer(config["optimizer"], config["learning_rate"]),
                  loss="categorical_crossentropy",
                  weighted_metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])

    run_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(run_dir=run_dir, name=config["name"], architecture=config["architecture"],
               params=config["params"], recipe=recipe, classes=classes,
               training_ranges=ds.training_ranges, monitor=monitor,
               mode=MONITORS[monitor], patience=config["patience"], config=config)
    start = run.load_checkpoint(model) if resume else 0
    if new_lr is not None and new_lr != learning_rate_at(config, start):
        steps = [s for s in config.get("lr_steps", []) if s[0] < start]
        config["lr_steps"] = steps + [[start, new_lr]]
    write_text_atomic(run_dir / CONFIG, json.dumps(config, indent=2) + "\n")  # on resume: epochs may grow

    jitter = [labels_in.index(c) for c in ds.recipe.relative_labels()]
    # runs written before these options keep their behaviour on --resume
    applied = applied_settings(config)
    weights = class_weights(train_y, n_classes) if applied["class_weight"] == "balanced" else None
    orient = quats if applied["random_orientation"] else None
    # a turn of the grid alone would mismatch quaternion inputs, unless they are turned at random too
    turn = bool(config.get("dihedral", False)) and (not quats or orient is not None) \
        and train_x.shape[1] == train_x.shape[2]
    devices = int(config.get("devices") or 1)
    run.train_batches = _make_batches(train_x, train_y, n_classes, config["batch_size"], config["seed"], True,
                                      jitter, weights, turn, devices=devices,
                                      gain=applied["quality_gain"], own=applied["own_scale"],
                                      orient=orient, grain_angle=float(recipe.get("grain_angle", 3.0)),
                                      flat=applied["quality_dropout"], border=applied["border_weight"],
                                      border_sigma=applied["border_sigma"])
    val = (_make_batches(val_x, val_y, n_classes, config["batch_size"], config["seed"], False, devices=devices)
           if val_x is not None else None)
    run.val_batches = val
    callbacks = [keras.callbacks.LearningRateScheduler(lambda epoch, lr: learning_rate_at(config, epoch)),
                 _run_keeper(run)]
    if progress:
        callbacks.append(_rich_progress(config["epochs"], len(run.train_batches)))
    callbacks += list(extra_callbacks)

    if start < config["epochs"] and not run.stopped_early:
        # shuffle=False: keras would shuffle the batch order with numpy's global RNG, which a
        # resumed run cannot replay; the batches shuffle the crops themselves, by (seed, epoch)
        model.fit(run.train_batches, validation_data=val, epochs=config["epochs"], initial_epoch=start,
                  callbacks=callbacks, verbose=0, shuffle=False)
    if run.history:
        from ebsdphase.plots import plot_curves

        plot_curves(run.history, run_dir / "curves.png", title=f"{config['name']} ({config['architecture']})")
    card = run_dir / f"{config['name']}.json"
    if run.history:
        from ebsdphase.training.report import write_train_report

        write_train_report(run_dir, config, run.history, run.best_epoch, card if card.exists() else None)
    return TrainResult(run_dir=run_dir, bundle=card if card.exists() else None, best_epoch=run.best_epoch,
                       best_value=run.best_value, epochs_run=len(run.history), stopped_early=run.stopped_early,
                       history=list(run.history))
