"""``prepare``: from EBSD maps and their labels to a training dataset file.

Two passes keep memory bounded and the output exact:

1. *Plan*, from the label images only (cheap): for each map and augmentation, transform
   the labels, find the crops worth keeping and count their classes. This fixes the
   number of crops, hence the train/validation split, before any input is built.
2. *Write*: read one map at a time, build one augmented map at a time, compute its input
   channels with the recipe (KAM and grains recomputed on the augmented grid), and store
   its crops at their planned slots. Only one source map and one augmented copy are in
   memory at any moment.
"""

from __future__ import annotations

import os
import shlex
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ebsdphase.models import domain
from ebsdphase.dataset import split as splitting
from ebsdphase.dataset.augment import augmentations, augmented
from ebsdphase.dataset.crops import crop_grid, crop_positions
from ebsdphase.dataset.io import SPLITS, DatasetWriter
from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning
from ebsdphase.features import ChannelRecipe
from ebsdphase.core.classes import UNLABELLED, ClassSet, labels_path, read_classes, read_labels

#: progress(done, total, message): called after each augmented map is written
Progress = Callable[[int, int, str], None]


@dataclass
class _Plan:
    maps: list[Path] = field(default_factory=list)
    label_files: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # map -> why it was left out
    classes: ClassSet | None = None
    # one entry per kept crop, in stream order (map, augmentation, row, col)
    map_index: list[int] = field(default_factory=list)
    aug_index: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)  # per crop: K classes + unlabelled


def prepare(
    map_paths: Sequence[str | os.PathLike],
    labels_dir: str | os.PathLike | None,
    recipe: ChannelRecipe | str,
    out: str | os.PathLike,
    augment: bool = True,
    crop: int = 224,
    val: float = 0.2,
    seed: int = 0,
    split_by: str = "map",
    progress: Progress | None = None,
    *,
    border: str = "drop",
    max_unlabelled: float = 0.5,
    command: str | None = None,
) -> dict[str, Any]:
    """Build the dataset file ``out`` and return a summary (crops and class pixels per split).

    ``map_paths``: files, folders or glob patterns. ``labels_dir`` is where
    ``<stem>.labels.png`` files are looked for (None: beside each map); maps without labels
    are left out and listed in the summary's ``failed`` (map -> reason). ``recipe`` is a
    :class:`ChannelRecipe` or its text form ("bs,kam"). See the module docstrings of
    :mod:`~ebsdphase.dataset.augment`, :mod:`~ebsdphase.dataset.crops` and
    :mod:`~ebsdphase.dataset.split` for the augmentation, border and split policies.
    """
    start = time.perf_counter()
    if isinstance(recipe, str):
        recipe = ChannelRecipe.parse(recipe)
    crop = int(crop)
    if crop < 2:
        raise EbsdphaseError(f"crop={crop}: must be at least 2 pixels")
    if not 0.0 <= max_unlabelled <= 1.0:
        raise EbsdphaseError(f"max_unlabelled must be in [0, 1], got {max_unlabelled}")
    splitting.check(val, split_by)
    crop_grid((crop, crop), crop, border)  # validates the border policy early
    if not map_paths:
        raise EbsdphaseError("no map given (map_paths is empty)")
    augs = augmentations(augment)

    plan = _plan(map_paths, labels_dir, augs, crop, border, max_unlabelled)
    n_crops = len(plan.map_index)
    if n_crops == 0:
        raise EbsdphaseError(f"no {crop} x {crop} crop with at most {max_unlabelled:.0%} unlabelled "
                             f"pixels fits in the labelled maps; use a smaller crop=N")
    map_index = np.asarray(plan.map_index)
    is_val = splitting.assign(map_index, len(plan.maps), val, seed, split_by)
    split_of = np.where(is_val, 1, 0)
    slot = np.empty(n_crops, np.int64)
    for s in (0, 1):
        sel = split_of == s
        slot[sel] = np.arange(np.count_nonzero(sel))
    sizes = {SPLITS[s]: int(np.count_nonzero(split_of == s)) for s in (0, 1)}
    if val > 0 and sizes["val"] == 0:
        warnings.warn("the validation split is empty (too few crops, or its maps have no usable crop)",
                      EbsdphaseWarning, stacklevel=2)

    counts = np.stack(plan.counts)
    classes = plan.classes or ClassSet()
    summary = _summary(plan, classes, counts, split_of, map_index, augs, out, crop, split_by)
    if command is None:
        command = _equivalent_command(plan.maps, labels_dir, recipe, out, augment, crop, val, seed,
                                      split_by)

    # crops of each (map, augmentation) in stream order, grouped for pass 2
    aug_index = np.asarray(plan.aug_index)
    by_key: dict[tuple[int, int], np.ndarray] = {}
    order = np.lexsort((aug_index, map_index))
    keys = map_index[order] * len(augs) + aug_index[order]
    for group in np.split(order, np.flatnonzero(np.diff(keys)) + 1):
        by_key[(int(map_index[group[0]]), int(aug_index[group[0]]))] = group

    from ebsdphase.io import read_map

    total = len(plan.maps) * len(augs)
    done = 0
    stats = []  # of every augmented map that gave crops: the ranges the model will see
    extra = {"val": float(val), "augment": bool(augment), "border": border,
             "max_unlabelled": float(max_unlabelled), "augmentations": [a.name for a in augs],
             "maps": [str(p) for p in plan.maps], "class_pixels": summary["splits"]}
    with DatasetWriter(out, recipe=recipe, classes=classes, crop=crop, sizes=sizes, split_by=split_by,
                       seed=seed, command=command, extra_attrs=extra) as writer:
        for mi, (path, label_file) in enumerate(zip(plan.maps, plan.label_files)):
            ebsd = read_map(path)
            missing = recipe.missing(ebsd)
            if missing:
                raise EbsdphaseError(f"{path}: no channel {', '.join(missing)} "
                                     f"(has: {', '.join(sorted(ebsd.channels)) or 'none'})")
            labels = read_labels(label_file, ebsd.shape)
            for ai, (aug, amap, lab) in enumerate(augmented(ebsd, labels, augment)):
                group = by_key.get((mi, ai))
                if group is not None:
                    inputs = recipe.build(amap)
                    stats.append(domain.map_stats(amap, recipe))
                    for i in group:
                        r, c = plan.rows[i], plan.cols[i]
                        writer.write(SPLITS[split_of[i]], int(slot[i]), inputs[r:r + crop, c:c + crop],
                                     lab[r:r + crop, c:c + crop], str(path), aug.name, r, c)
                    del inputs
                del amap, lab
                done += 1
                if progress is not None:
                    progress(done, total, f"{Path(path).name} {aug.name}")
            del ebsd, labels
        summary["training_ranges"] = domain.ranges(stats)
        writer.set_attr("training_ranges", summary["training_ranges"])
    summary["seconds"] = time.perf_counter() - start
    summary["command"] = command
    return summary


def _plan(map_paths, labels_dir, augs, crop, border, max_unlabelled) -> _Plan:
    plan = _Plan()
    from ebsdphase.io.discover import expand_maps

    for path in expand_maps(map_paths):
        label_file = labels_path(path, labels_dir)
        if not label_file.exists():
            plan.failed[str(path)] = f"{path}: no labels ({label_file} not found); map left out"
            continue
        classes = read_classes(label_file)
        if plan.classes is None:
            plan.classes = classes
        elif classes.names != plan.classes.names:
            raise EbsdphaseError(f"{label_file}: classes {', '.join(classes.names)} differ from "
                                 f"{', '.join(plan.classes.names)} of the maps before it")
        labels = read_labels(label_file)
        values = np.unique(labels)
        bad = values[(values >= len(classes)) & (values != UNLABELLED)]
        if bad.size:
            raise EbsdphaseError(f"{label_file}: label value {int(bad[0])} but only {len(classes)} "
                                 f"classes ({', '.join(classes.names)}); 255 marks unlabelled pixels")
        mi = len(plan.maps)
        plan.maps.append(path)
        plan.label_files.append(label_file)
        k = len(classes)
        for ai, aug in enumerate(augs):
            lab = aug.apply_grid(labels)
            for r, c in crop_positions(lab, crop, border, max_unlabelled):
                hist = np.bincount(lab[r:r + crop, c:c + crop].ravel(), minlength=256)
                plan.map_index.append(mi)
                plan.aug_index.append(ai)
                plan.rows.append(r)
                plan.cols.append(c)
                plan.counts.append(np.append(hist[:k], hist[UNLABELLED]).astype(np.int64))
    if not plan.maps:
        where = labels_dir if labels_dir is not None else "the map folders"
        raise EbsdphaseError(f"none of the maps has labels in {where}")
    return plan


def _summary(plan, classes, counts, split_of, map_index, augs, out, crop, split_by) -> dict[str, Any]:
    splits = {}
    for s, name in enumerate(SPLITS):
        sel = split_of == s
        tot = counts[sel].sum(axis=0) if sel.any() else np.zeros(counts.shape[1], np.int64)
        pixels = {cls: int(tot[i]) for i, cls in enumerate(classes.names)}
        pixels["unlabelled"] = int(tot[-1])
        splits[name] = {"crops": int(sel.sum()),
                        "maps": sorted({str(plan.maps[m]) for m in np.unique(map_index[sel])}),
                        "pixels": pixels}
    return {"out": str(out), "maps": [str(p) for p in plan.maps], "failed": dict(plan.failed),
            "classes": list(classes.names), "augmentations": [a.name for a in augs], "crop": crop,
            "split_by": split_by, "splits": splits}


def _equivalent_command(maps, labels_dir, recipe, out, augment, crop, val, seed, split_by) -> str:
    """The CLI line that makes the same dataset (recorded for library callers too)."""
    args = ["ebsdphase", "prepare", *map(str, maps)]
    if labels_dir is not None:
        args += ["--labels", str(labels_dir)]
    args += ["--channels", str(recipe), "-o", str(out), "--augment" if augment else "--no-augment",
             "--crop", str(crop), "--val", f"{val:g}", "--seed", str(seed), "--split-by", split_by]
    default = ChannelRecipe(recipe.names)
    for opt, attr in (("--kam-order", "kam_order"), ("--kam-threshold", "kam_threshold"),
                      ("--grain-angle", "grain_angle")):
        if getattr(recipe, attr) != getattr(default, attr):
            args += [opt, f"{getattr(recipe, attr):g}"]
    if recipe.normalisation != default.normalisation:
        args += ["--normalisation", recipe.normalisation]
    return shlex.join(args)
