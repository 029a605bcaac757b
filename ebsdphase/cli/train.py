"""``ebsdphase train DATASET -o RUN_DIR``: fit a network on a prepared dataset."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ebsdphase.cli._common import OUT_ALIAS, console, error, handle_errors, output_option, pick_output, warn
from ebsdphase.features import QUALITY_GAIN
from ebsdphase.training.border import BORDER_SIGMA


@handle_errors
def command(
    dataset: Path = typer.Argument(..., help="A dataset file made by `ebsdphase prepare`."),
    output: Optional[Path] = output_option("Run folder: model bundle, history.csv, curves.png, checkpoint/ "
                                                   "(and epochs/ with --keep-epochs)."),
    out_alias: Optional[Path] = OUT_ALIAS,
    arch: Optional[str] = typer.Option(None, "--arch", help="Architecture (see `ebsdphase models list`); default unet."),
    param: List[str] = typer.Option([], "--param", "-p", help="Architecture parameter NAME=VALUE, repeatable (e.g. depth=5)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train (default 30; with --resume: the new total)."),
    batch: int = typer.Option(8, "--batch", help="Crops per batch."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam (default, 1e-3) or adadelta (the paper's; learning rate 1.0)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the optimizer's, see --optimizer; "
                                       "with --resume: the rate from the next epoch on)."),
    seed: int = typer.Option(0, "--seed", help="Seed of weights, dropout and crop order (same seed, same model)."),
    patience: Optional[int] = typer.Option(None, "--patience", help="Stop after this many epochs without improvement "
                                           "(default 10; 0: never; with --resume: a new patience, so a run "
                                           "stopped early can go on)."),
    monitor: str = typer.Option("val_balanced_accuracy", "--monitor", help="Metric that picks the best model: "
                                "val_balanced_accuracy (default: mean recall of the classes, which a "
                                "majority-class model cannot win), val_loss or val_accuracy."),
    class_weight: str = typer.Option("balanced", "--class-weight", help="balanced (default: every class weighs "
                                     "the same in the loss, however rare) or none (the paper's)."),
    smooth: str = typer.Option("grains", "--smooth", help="How `predict` post-processes this model's answers "
                               "(recorded in the card): 'grains' (default; each grain one phase), 'soft' "
                               "(each pixel's probabilities averaged with its grain's mean) or 'none'."),
    dihedral: bool = typer.Option(True, "--dihedral/--no-dihedral", help="Turn every crop by a fresh random "
                                  "symmetry of the square each epoch (inputs without quaternions)."),
    quality_gain: float = typer.Option(QUALITY_GAIN, "--quality-gain", help="Random gain in [1/G, G] on each training "
                                       "crop's quality channels (1: none), so the network decides on "
                                       "contrast, not on one level of the map's scale."),
    own_scale: float = typer.Option(0.0, "--own-scale", help="Share of training crops (0-1) whose quality "
                                    "channels are re-scaled over the crop's own 98th percentile, as a "
                                    "crop or a one-phase map is when predicted (0: none)."),
    quality_dropout: float = typer.Option(0.0, "--quality-dropout", help="Share of training crops (0-1) whose "
                                          "quality channels are flattened to their median, so the model "
                                          "also learns the phase from KAM and texture alone (0: none)."),
    border_weight: float = typer.Option(0.0, "--border-weight", help="Pixels near another class weigh up to "
                                        "1 + W times more in the loss (U-Net border weights), so phase "
                                        "borders and small islands count for more than their pixels "
                                        "(0: none)."),
    border_sigma: float = typer.Option(BORDER_SIGMA, "--border-sigma", help="Width (pixels) of the band "
                                       "--border-weight stresses."),
    random_orientation: bool = typer.Option(False, "--random-orientation", help="Quaternion inputs: turn each "
                                            "training crop by a random sample rotation (re-homogenised) and a "
                                            "random symmetry of the square, so the model cannot learn the "
                                            "absolute orientations of its training maps (cubic phases)."),
    keep_epochs: bool = typer.Option(False, "--keep-epochs", help="Keep every epoch's model as a bundle in "
                                     "RUN_DIR/epochs/epoch-NNN, to choose an epoch on a measure of your "
                                     "own (e.g. whole validation maps with `ebsdphase evaluate`); "
                                     "each is a full bundle on disk."),
    distribute: bool = typer.Option(False, "--distribute", help="Data-parallel over every visible device "
                                    "(GPUs; JAX backend); --batch is the global batch, a multiple of the "
                                    "device count."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name (default: the run folder's name)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in RUN_DIR exactly, with its saved settings "
                                "(only --epochs, --patience and --lr may change)."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from this model's weights (bundle folder, card or pretrained name)."),
    transfer: bool = typer.Option(False, "--transfer", help="With --init: start from a model trained on other "
                                  "channels, as many and built the same way (e.g. --init dp-bs for a "
                                  "band-contrast model)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a network (the paper's U-Net by default) on a prepared dataset.

    Keeps the best-validation model as a bundle in RUN_DIR, with a CSV history, the
    accuracy/loss curves and a checkpoint per epoch for --resume.
    """
    from ebsdphase.models.registry import parse_params
    from ebsdphase.training.loop import train

    out = pick_output(output, out_alias)
    params = parse_params(param)
    if resume and (arch or params or init or transfer or own_scale != 0.0 or quality_gain != QUALITY_GAIN
                   or quality_dropout != 0.0 or random_orientation or keep_epochs or border_weight != 0.0
                   or border_sigma != BORDER_SIGMA):
        warn(f"--resume uses the settings saved in {out / 'train.json'}; --arch, --param, --init, --transfer, "
             "--own-scale, --quality-gain, --quality-dropout, --border-weight, --border-sigma, "
             "--random-orientation and --keep-epochs are ignored")
    try:
        result = train(dataset, out, architecture=arch, params=params or None, epochs=epochs, batch_size=batch,
                       optimizer=optimizer, learning_rate=lr, seed=seed, patience=patience, monitor=monitor,
                       name=name, resume=resume, init=init, progress=not quiet, class_weight=class_weight,
                       dihedral=dihedral, smooth=smooth, distribute=distribute,
                       quality_gain=quality_gain, own_scale=own_scale, quality_dropout=quality_dropout,
                       random_orientation=random_orientation, keep_epochs=keep_epochs,
                       border_weight=border_weight, border_sigma=border_sigma, transfer=transfer)
    except KeyboardInterrupt:
        error(f"interrupted; continue exactly where the last finished epoch left off with "
              f"`ebsdphase train {dataset} -o {out} --resume`")
        raise typer.Exit(130) from None

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", str(result.bundle) if result.bundle else "none saved")
    if result.best_epoch is not None:
        best = next((r for r in result.history if r["epoch"] == result.best_epoch), {})
        acc = best.get("val_accuracy", best.get("accuracy"))
        table.add_row("best epoch", f"{result.best_epoch} of {result.epochs_run}"
                      + (f"  (accuracy {100 * acc:.2f} %)" if acc is not None else ""))
    if result.stopped_early:
        table.add_row("stopped", "early: no improvement for --patience epochs")
    table.add_row("history", str(result.run_dir / "history.csv"))
    table.add_row("curves", str(result.run_dir / "curves.png"))
    if (result.run_dir / "report.html").exists():
        table.add_row("report", str(result.run_dir / "report.html"))
    console.print(table)
