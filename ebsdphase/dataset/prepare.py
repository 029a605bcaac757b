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
from ebsdphase.core.classes import (UNLABELLED, ClassSet, check_label_shape, labels_path, read_classes,
                                    read_labels)

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
    split: list[int] = field(default_factory=list)          # per crop, block split only: 0 train, 1 val
    val_masks: list[np.ndarray | None] = field(default_factory=list)  # per map, block split only
    shapes: list[tuple[int, int]] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)   # per map, read once for planning


def prepare(
    map_paths: Sequence[str | os.PathLike],
    labels_dir: str | os.PathLike | None,
    recipe: ChannelRecipe | str,
    out: str | os.PathLike,
    augment: bool = True,
    crop: int | None = None,
    val: float = 0.2,
    seed: int = 0,
    split_by: str = "map",
    progress: Progress | None = None,
    *,
    border: str | None = None,
    max_unlabelled: float = 0.5,
    command: str | None = None,
    val_maps: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build the dataset file ``out`` and return a summary (crops and class pixels per split).

    ``map_paths``: files, folders or glob patterns. ``labels_dir`` is where
    ``<stem>.labels.png`` files are looked for (None: beside each map); maps without labels
    are left out and listed in the summary's ``failed`` (map -> reason). ``recipe`` is a
    :class:`ChannelRecipe` or its text form ("bs,kam"). See the module docstrings of
    :mod:`~ebsdphase.dataset.augment`, :mod:`~ebsdphase.dataset.crops` and
    :mod:`~ebsdphase.dataset.split` for the augmentation, border and split policies.

    ``border=None``: ``"drop"`` for a random crop split (a shifted border crop would put the
    same pixels on both sides), ``"shift"`` otherwise (the last row and column of crops end
    at the map's edge, so a small map gives all its pixels).
    ``crop=None`` chooses the crop size from the maps (:func:`auto_crop`: 224 px, the
    paper's, unless a map is too small for four of them). With ``split_by="map"`` and a
    single labelled map, validation is a set of spatial blocks of that map
    (``split_by="block"``), and the summary's ``split_note`` says so.
    ``val_maps``: file names or glob patterns of the maps that form the validation split
    (split by map only), instead of a random ``val`` share of the maps; ``val`` is then
    recorded as the share of maps they are.
    """
    start = time.perf_counter()
    if isinstance(recipe, str):
        recipe = ChannelRecipe.parse(recipe)
    if crop is not None and int(crop) < 2:
        raise EbsdphaseError(f"crop={crop}: must be at least 2 pixels")
    if not 0.0 <= max_unlabelled <= 1.0:
        raise EbsdphaseError(f"max_unlabelled must be in [0, 1], got {max_unlabelled}")
    splitting.check(val, split_by)
    if border is None:
        border = "drop" if split_by == "crop" else "shift"
    crop_grid((2, 2), 2, border)  # validates the border policy early
    if not map_paths:
        raise EbsdphaseError("no map given (map_paths is empty)")
    augs = augmentations(augment)

    if val_maps and split_by != "map":
        raise EbsdphaseError(f"val_maps chooses whole maps: it needs split_by='map', not {split_by!r}")
    plan = _gather(map_paths, labels_dir)
    map_is_val = splitting.split_maps_by_name(plan.maps, val_maps) if val_maps else None
    if map_is_val is not None:
        val = float(map_is_val.mean())
    crop = auto_crop(plan.shapes) if crop is None else int(crop)
    split_note = None
    if split_by == "map" and len(plan.maps) == 1 and val > 0 and map_is_val is None:
        split_by = "block"  # one map cannot be split by map: split it in space
    if split_by == "block":
        plan.val_masks = [splitting.block_mask(s, crop, val, seed + i) for i, s in enumerate(plan.shapes)]
        share = sum(int(m.sum()) for m in plan.val_masks) / sum(m.size for m in plan.val_masks)
        split_note = (f"{'one labelled map' if len(plan.maps) == 1 else 'block split'}: validation is "
                      f"{sum(int(_n_blocks(m, crop)) for m in plan.val_masks)} blocks of {crop} x {crop} px "
                      f"({share:.0%} of the area), masked out of the training labels")
    _positions(plan, augs, crop, border, max_unlabelled)
    n_crops = len(plan.map_index)
    if n_crops == 0:
        raise EbsdphaseError(f"no {crop} x {crop} crop with at most {max_unlabelled:.0%} unlabelled "
                             f"pixels fits in the labelled maps; use a smaller crop=N")
    map_index = np.asarray(plan.map_index)
    if split_by == "block":
        split_of = np.asarray(plan.split)
    elif map_is_val is not None:
        split_of = np.where(map_is_val[map_index], 1, 0)
    else:
        split_of = np.where(splitting.assign(map_index, len(plan.maps), val, seed, split_by), 1, 0)
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
    summary["split_note"] = split_note
    if command is None:
        command = _equivalent_command(plan.maps, labels_dir, recipe, out, augment, crop, val, seed,
                                      split_by, val_maps)

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
            labels = plan.labels[mi]  # read once, when planning
            check_label_shape(label_file, labels, ebsd.shape)
            variants = _label_variants(labels, plan.val_masks[mi] if plan.val_masks else None)
            for ai, (aug, amap, lab) in enumerate(augmented(ebsd, labels, augment)):
                group = by_key.get((mi, ai))
                if group is not None:
                    inputs = recipe.build(amap)
                    stats.append(domain.map_stats(amap, recipe))
                    labs = [aug.apply_grid(v) for v in variants] if len(variants) > 1 else [lab]
                    for i in group:
                        r, c = plan.rows[i], plan.cols[i]
                        lab_i = labs[split_of[i]] if len(labs) > 1 else labs[0]
                        writer.write(SPLITS[split_of[i]], int(slot[i]), inputs[r:r + crop, c:c + crop],
                                     lab_i[r:r + crop, c:c + crop], str(path), aug.name, r, c)
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


#: crop sizes ``prepare`` chooses from (multiples of 32, so any U-Net up to 5 steps fits)
CROP_SIZES = (224, 192, 160, 128, 96, 64, 32)


def auto_crop(shapes: Sequence[tuple[int, int]], want: int = 4) -> int:
    """The paper's 224 px, or the largest of :data:`CROP_SIZES` that gives every map at
    least ``want`` crops (the smallest size that fits at all when none does)."""
    for size in CROP_SIZES:
        if all((r // size) * (c // size) >= want for r, c in shapes):
            return size
    if all(min(r, c) >= CROP_SIZES[-1] for r, c in shapes):
        return CROP_SIZES[-1]
    smallest = min(shapes, key=lambda s: min(s))
    raise EbsdphaseError(f"a labelled map of {smallest[0]} x {smallest[1]} px is smaller than the smallest "
                         f"crop ({CROP_SIZES[-1]} px); give crop=N")


def _n_blocks(mask: np.ndarray, size: int) -> int:
    rows, cols = mask.shape
    return sum(bool(mask[r, c]) for r in range(0, rows, size) for c in range(0, cols, size))


def _label_variants(labels: np.ndarray, val_mask: np.ndarray | None) -> list[np.ndarray]:
    """[labels] or, for a block split, [training labels, validation labels]: each with the
    other side's pixels unlabelled, so no labelled pixel is seen on both sides."""
    if val_mask is None:
        return [labels]
    return [np.where(val_mask, UNLABELLED, labels).astype(labels.dtype),
            np.where(val_mask, labels, UNLABELLED).astype(labels.dtype)]


def _gather(map_paths, labels_dir) -> _Plan:
    """The labelled maps among ``map_paths`` (files, folders, globs), their label files,
    classes and shapes; maps without labels go to ``failed``."""
    from ebsdphase.io.discover import expand_maps

    plan = _Plan()
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
        plan.maps.append(path)
        plan.label_files.append(label_file)
        plan.shapes.append(labels.shape)
        plan.labels.append(labels)
    if not plan.maps:
        where = labels_dir if labels_dir is not None else "the map folders"
        raise EbsdphaseError(f"none of the maps has labels in {where}")
    return plan


def _positions(plan: _Plan, augs, crop: int, border: str, max_unlabelled: float) -> None:
    """Every crop worth keeping, per map, augmentation and (block split) side."""
    k = len(plan.classes)
    for mi, labels in enumerate(plan.labels):
        variants = _label_variants(labels, plan.val_masks[mi] if plan.val_masks else None)
        for ai, aug in enumerate(augs):
            for side, variant in enumerate(variants):
                lab = aug.apply_grid(variant)
                for r, c in crop_positions(lab, crop, border, max_unlabelled):
                    hist = np.bincount(lab[r:r + crop, c:c + crop].ravel(), minlength=256)
                    plan.map_index.append(mi)
                    plan.aug_index.append(ai)
                    plan.rows.append(r)
                    plan.cols.append(c)
                    plan.split.append(side)
                    plan.counts.append(np.append(hist[:k], hist[UNLABELLED]).astype(np.int64))


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


def _equivalent_command(maps, labels_dir, recipe, out, augment, crop, val, seed, split_by,
                        val_maps=None) -> str:
    """The CLI line that makes the same dataset (recorded for library callers too)."""
    args = ["ebsdphase", "prepare", *map(str, maps)]
    if labels_dir is not None:
        args += ["--labels", str(labels_dir)]
    args += ["--channels", str(recipe), "-o", str(out), "--augment" if augment else "--no-augment",
             "--crop", str(crop), "--val", f"{val:g}", "--seed", str(seed), "--split-by", split_by]
    for pattern in val_maps or ():
        args += ["--val-maps", str(pattern)]
    default = ChannelRecipe(recipe.names)
    for opt, attr in (("--kam-order", "kam_order"), ("--kam-threshold", "kam_threshold"),
                      ("--grain-angle", "grain_angle")):
        if getattr(recipe, attr) != getattr(default, attr):
            args += [opt, f"{getattr(recipe, attr):g}"]
    if recipe.normalisation != default.normalisation:
        args += ["--normalisation", recipe.normalisation]
    if recipe.fill_unindexed:
        args.append("--fill-unindexed")
    return shlex.join(args)
