"""Map-level prediction: whole maps, tiles and batches of small maps.

A map is predicted whole by default (the paper's section 4.2: a U-Net takes any size, and
predicting small frames then stitching them "induces a quality loss"): the inputs are
built with the bundle's channel recipe, reflect-padded at the bottom and right to a
multiple of ``bundle.multiple``, predicted in one forward pass and cropped back.

``tile=N, overlap=M`` bounds memory for maps too large for one pass: N x N tiles whose
starts are ``N - M`` apart are predicted and their probabilities blended with a weight
that ramps linearly from ~0 to 1 across the M overlap pixels at every tile edge inside
the map (edges on the map border keep weight 1). With an overlap larger than the
network's effective context the result equals whole-map prediction on all but a few
pixels.

``tta=True`` (test-time augmentation) predicts the map under the 8 symmetries of the square
grid, each realised as a rotation of the *sample* (orientations turned with the grid, as
``prepare`` augments: :mod:`ebsdphase.dataset.augment`), turns each answer back and
averages the probabilities: 8 forward passes for a smoother, more certain map.

A card may say ``finest_step_um``: a map with a finer step is then predicted on its f x f
sub-lattices (``map[r::f, c::f]``, f the smallest integer that brings the step to at least
that), each a whole map of f times the step with its own KAM and grains, and every pixel
takes the answer of its own sub-lattice. The models are trained across steps 0.05-0.5 um
and are least sure at their finest steps, where a martensite lath is a few pixels wide and
KAM between neighbours is mostly noise; at twice the step the same pixels are predicted
better (measured on validation maps, see the card). The cost is that of the whole map.

Keras is imported only through the bundle, when the first map is predicted. Predicting
folders of map files into output files is :mod:`ebsdphase.prediction.folder`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.iron import iron_mask
from ebsdphase.prediction.result import Prediction, from_probabilities

__all__ = ["Prediction", "predict", "predict_many", "predict_probabilities", "batched_probabilities",
           "wrap_probabilities", "load_model", "tta_probabilities", "map_probabilities",
           "batched_map_probabilities", "model_inputs", "sublattice_factor"]

#: upper bound on pixels predicted in one forward pass when batching small maps/tiles
BATCH_PIXELS = 2_000_000


def load_model(model: Any):
    """A :class:`~ebsdphase.models.bundle.Bundle` from a bundle, folder, card path or
    pretrained name."""
    from ebsdphase.models.bundle import Bundle, load_bundle

    return model if isinstance(model, Bundle) else load_bundle(model)


# -- arrays ---------------------------------------------------------------------------------

def _pad(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Reflect-pad (rows, cols, C) at the bottom/right to ``shape``; no copy when equal."""
    pr, pc = shape[0] - x.shape[0], shape[1] - x.shape[1]
    if pr == 0 and pc == 0:
        return x
    # numpy's reflect repeats the reflection when the pad exceeds the size (tiny maps)
    return np.pad(x, ((0, pr), (0, pc), (0, 0)), mode="reflect" if min(x.shape[:2]) > 1 else "edge")


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _forward(bundle, batch: np.ndarray) -> np.ndarray:
    """(n, H, W, C) float32 -> (n, H, W, K) float32 probabilities, one compiled call."""
    out = bundle.model.predict_on_batch(batch)
    return np.asarray(out, dtype=np.float32)


def _check_inputs(bundle, x: np.ndarray, source: str | None) -> None:
    if x.ndim != 3 or x.shape[-1] != bundle.input_channels:
        raise EbsdphaseError(f"{source or 'map'}: model {bundle.name!r} expects {bundle.input_channels} "
                             f"input channels, the recipe built {x.shape[-1]}")


def predict_probabilities(bundle, x: np.ndarray, tile: int | None = None, overlap: int = 0,
                          source: str | None = None) -> np.ndarray:
    """(rows, cols, K) float32 probabilities of one (rows, cols, C) input array."""
    _check_inputs(bundle, x, source)
    rows, cols = x.shape[:2]
    m = bundle.multiple
    padded_shape = (_round_up(rows, m), _round_up(cols, m))
    if tile is None or (tile >= padded_shape[0] and tile >= padded_shape[1]):
        probs = _forward(bundle, _pad(x, padded_shape)[None])[0]
        return probs[:rows, :cols]
    return _predict_tiled(bundle, _pad(x, padded_shape), tile, overlap)[:rows, :cols]


def _tile_starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return sorted(set(starts))


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """1-D blending weight: linear ramp over ``overlap`` pixels at the inner edges."""
    w = np.ones(length, np.float32)
    if overlap > 0:
        r = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        n = min(overlap, length)
        if ramp_start:
            w[:n] = np.minimum(w[:n], r[:n])
        if ramp_end:
            w[length - n:] = np.minimum(w[length - n:], r[:n][::-1])
    return w


def _predict_tiled(bundle, x: np.ndarray, tile: int, overlap: int) -> np.ndarray:
    m = bundle.multiple
    rows, cols = x.shape[:2]
    if tile < m:
        raise EbsdphaseError(f"tile={tile} is smaller than the model's size multiple {m}")
    if overlap < 0 or overlap >= tile:
        raise EbsdphaseError(f"overlap={overlap} must be in [0, tile) for tile={tile}")
    tile = _round_up(tile, m)  # the network only takes multiples of m
    th, tw = min(tile, rows), min(tile, cols)  # rows/cols are multiples of m already
    stride = max(tile - overlap, m)
    r_starts = _tile_starts(rows, th, stride)
    c_starts = _tile_starts(cols, tw, stride)
    acc: np.ndarray | None = None
    weight = np.zeros((rows, cols), np.float32)
    boxes = [(r, c) for r in r_starts for c in c_starts]
    per_batch = max(1, BATCH_PIXELS // (th * tw))
    for i in range(0, len(boxes), per_batch):
        chunk = boxes[i:i + per_batch]
        batch = np.stack([x[r:r + th, c:c + tw] for r, c in chunk])
        out = _forward(bundle, batch)
        if acc is None:
            acc = np.zeros((rows, cols, out.shape[-1]), np.float32)
        for (r, c), probs in zip(chunk, out):
            # the ramp spans the real overlap between neighbours (the last tile is shifted
            # back to fit, so its overlap with the previous one can be larger)
            wr = _ramp(th, overlap, r > 0, r + th < rows)
            wc = _ramp(tw, overlap, c > 0, c + tw < cols)
            w = wr[:, None] * wc[None, :]
            acc[r:r + th, c:c + tw] += probs * w[..., None]
            weight[r:r + th, c:c + tw] += w
    acc /= weight[..., None]
    return acc


# -- maps -----------------------------------------------------------------------------------

def _as_map(ebsd):
    from ebsdphase.core.ebsdmap import EBSDMap

    if isinstance(ebsd, EBSDMap):
        return ebsd
    from ebsdphase.io import read_map

    return read_map(ebsd)


def _inputs(bundle, ebsd) -> np.ndarray:
    bundle.check_map(ebsd)
    return bundle.recipe.build(ebsd)


def sublattice_factor(bundle, ebsd) -> int:
    """f: ``ebsd`` is predicted on its f x f sub-lattices (1: whole), so that each has a
    step of at least the card's ``finest_step_um``."""
    finest = bundle.finest_step_um
    step = float(max(ebsd.step))
    if not finest or step <= 0 or step >= finest:
        return 1
    return math.ceil(finest / step - 1e-9)


def sublattices(ebsd, f: int) -> list:
    """The f x f sub-lattice maps of ``ebsd``, row-major by (row offset, column offset)."""
    return [ebsd[r::f, c::f] for r in range(f) for c in range(f)]


def model_inputs(bundle, ebsd) -> list[np.ndarray]:
    """The network inputs of ``ebsd``: one array, or one per sub-lattice
    (:func:`sublattice_factor`), in :func:`sublattices` order."""
    f = sublattice_factor(bundle, ebsd)
    if f == 1:
        return [_inputs(bundle, ebsd)]
    # a model that cleans its maps cleans the whole map before it is split: a pixel is then
    # filled from its nearest neighbour on the map, not on its sub-lattice, as on a map
    # cleaned by the acquisition software
    return [_inputs(bundle, m) for m in sublattices(cleaned_for(bundle, ebsd), f)]


def assemble(parts: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """One map's (rows, cols, K) probabilities from those of its sub-lattices (or the one
    whole-map array, returned as it is)."""
    if len(parts) == 1:
        return parts[0]
    f = int(round(len(parts) ** 0.5))
    out = np.empty(tuple(shape) + parts[0].shape[2:], np.float32)
    for k, p in enumerate(parts):
        r, c = divmod(k, f)
        out[r::f, c::f] = p
    return out


def map_probabilities(bundle, ebsd, tile: int | None = None, overlap: int = 0,
                      inputs: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """(rows, cols, K) probabilities of ``ebsd``, whole or by sub-lattices; ``inputs``:
    its :func:`model_inputs` when the caller has them already."""
    inputs = model_inputs(bundle, ebsd) if inputs is None else inputs
    parts = [predict_probabilities(bundle, x, tile, overlap, ebsd.source) for x in inputs]
    return assemble(parts, ebsd.shape)


def wrap_probabilities(bundle, ebsd, probs: np.ndarray) -> Prediction:
    """A :class:`Prediction` of ``ebsd`` from its (rows, cols, K) probabilities."""
    return from_probabilities(probs, class_set=bundle.classes, model=bundle.name, source=ebsd.source,
                              indexed=ebsd.indexed, recipe=bundle.recipe.to_dict(),
                              outside_training=bundle.outside_training(seen_map(bundle, ebsd)),
                              step=tuple(ebsd.step),
                              iron=iron_mask(ebsd) if bundle.sets_other_phases_apart else None)


def seen_map(bundle, ebsd):
    """The map as the network receives it, for the training-range check: the first
    sub-lattice when ``ebsd`` is predicted on sub-lattices (its step and KAM are those the
    model works at), else ``ebsd`` itself."""
    f = sublattice_factor(bundle, ebsd)
    return ebsd if f == 1 else ebsd[::f, ::f]


#: the 8 symmetries of the square grid as sample rotations: (rotations applied in order)
TTA_TRANSFORMS: tuple[tuple[str, ...], ...] = ((), ("x180",), ("y180",), ("z180",), ("z90",), ("z270",),
                                                ("z90", "x180"), ("z90", "y180"))
_INVERSE = {"x180": "x180", "y180": "y180", "z180": "z180", "z90": "z270", "z270": "z90"}


def tta_probabilities(bundle, ebsd, tile: int | None = None, overlap: int = 0) -> np.ndarray:
    """(rows, cols, K) probabilities averaged over :data:`TTA_TRANSFORMS`: each transformed
    map (orientations rotated with the grid, KAM and grains recomputed on it) is predicted
    and its answer turned back onto the original grid."""
    from ebsdphase.dataset.augment import by_name

    # cleaned once, before any turn: nearest-neighbour ties break in scan order, so cleaning
    # a turned map would fill some pixels differently from turning the cleaned one
    ebsd = cleaned_for(bundle, ebsd)
    acc = None
    for chain in TTA_TRANSFORMS:
        m = ebsd
        for name in chain:
            m = by_name(name).apply(m)
        probs = map_probabilities(bundle, m, tile, overlap)
        for name in reversed(chain):
            probs = by_name(_INVERSE[name]).rotate_grid(probs)
        acc = probs.astype(np.float32, copy=True) if acc is None else acc + probs
    acc /= len(TTA_TRANSFORMS)
    return acc


def predict(ebsd, model, tile: int | None = None, overlap: int = 0, tta: bool = False,
            smooth: str | None = "card") -> Prediction:
    """Predict the phase of every pixel of ``ebsd`` (an :class:`EBSDMap` or a map path).

    ``model`` is a bundle, a bundle folder/card path or a pretrained name; ``tta``
    averages over the 8 grid symmetries (:func:`tta_probabilities`); ``smooth``: "grains"
    gives every grain the phase of its pixels' mean probability, "soft" averages each
    pixel's probabilities with its grain's mean, None or "none" keeps the pixel answers, "card" (default) does what the model's card says. Returns a
    :class:`Prediction` with ``classes`` (rows, cols) uint8, ``probabilities``
    (rows, cols, K) float32 and ``entropy`` (rows, cols) float32 (softmax entropy / ln K).
    """
    bundle = load_model(model)
    ebsd = _as_map(ebsd)
    if tta:
        probs = tta_probabilities(bundle, ebsd, tile, overlap)
    else:
        probs = map_probabilities(bundle, ebsd, tile, overlap)
    return postprocess(bundle, ebsd, wrap_probabilities(bundle, ebsd, probs), smooth)


def resolve_smooth(bundle, smooth: str | None) -> str | None:
    """"card" -> the model's own choice; "none" -> None; else checked."""
    from ebsdphase.models.bundle import SMOOTH_MODES

    if smooth == "card":
        return bundle.smooth
    if smooth in (None, "none"):
        return None
    if smooth not in SMOOTH_MODES:
        raise EbsdphaseError(f"smooth={smooth!r}: choose {', '.join(SMOOTH_MODES)}, none or card")
    return smooth


def cleaned_for(bundle, ebsd):
    """The map as the model's recipe takes it: cleaned when the recipe cleans maps
    (``fill_unindexed``), else ``ebsd``. Its sub-lattices are the model's inputs and its
    grains smooth the answers (grains of the map the model saw, not split by non-indexed
    pixels)."""
    if not bundle.recipe.fill_unindexed:
        return ebsd
    from ebsdphase.core.cleanup import cleaned

    return cleaned(ebsd)


def postprocess(bundle, ebsd, pred: Prediction, smooth: str | None = "card", table=None) -> Prediction:
    """``pred`` smoothed by grains when ``smooth`` (or the card) asks for it; ``table``: the
    map's :class:`~ebsdphase.prediction.grains.GrainTable` when the caller has it already."""
    mode = resolve_smooth(bundle, smooth)
    if mode is None:
        return pred
    from ebsdphase.prediction.grains import blend_with_grains, grain_table, smooth_by_grains

    table = table if table is not None else grain_table(pred, cleaned_for(bundle, ebsd))
    return smooth_by_grains(pred, table) if mode == "grains" else blend_with_grains(pred, table)


def predict_many(maps: Sequence, model, batch_pixels: int = BATCH_PIXELS) -> list[Prediction]:
    """Predict several maps, stacking those of equal padded shape into one forward pass
    (at most ``batch_pixels`` pixels per pass)."""
    bundle = load_model(model)
    maps = [_as_map(m) for m in maps]
    probs = batched_map_probabilities(bundle, [model_inputs(bundle, m) for m in maps], maps, batch_pixels)
    return [wrap_probabilities(bundle, m, p) for m, p in zip(maps, probs)]


def batched_map_probabilities(bundle, inputs: Sequence[Sequence[np.ndarray]], maps: Sequence,
                              batch_pixels: int) -> list[np.ndarray]:
    """Each map's probabilities from its :func:`model_inputs` (``inputs[i]`` for
    ``maps[i]``), every whole map and sub-lattice of equal padded shape sharing passes."""
    flat = [x for xs in inputs for x in xs]
    sources = [m.source for m, xs in zip(maps, inputs) for _ in xs]
    probs = batched_probabilities(bundle, flat, sources, batch_pixels)
    out, k = [], 0
    for m, xs in zip(maps, inputs):
        out.append(assemble(probs[k:k + len(xs)], m.shape))
        k += len(xs)
    return out


def batched_probabilities(bundle, inputs: list[np.ndarray], sources: list, batch_pixels: int) -> list[np.ndarray]:
    """(rows, cols, K) probabilities of each (rows, cols, C) input, stacking inputs of equal
    padded shape into one forward pass (at most ``batch_pixels`` pixels per pass)."""
    mult = bundle.multiple
    groups: dict[tuple[int, int], list[int]] = {}
    for i, x in enumerate(inputs):
        _check_inputs(bundle, x, sources[i])
        shape = (_round_up(x.shape[0], mult), _round_up(x.shape[1], mult))
        groups.setdefault(shape, []).append(i)
    out: list[np.ndarray | None] = [None] * len(inputs)
    for shape, idx in groups.items():
        per = max(1, batch_pixels // (shape[0] * shape[1]))
        for j in range(0, len(idx), per):
            part = idx[j:j + per]
            batch = np.stack([_pad(inputs[i], shape) for i in part])
            probs = _forward(bundle, batch)
            for i, p in zip(part, probs):
                out[i] = p[: inputs[i].shape[0], : inputs[i].shape[1]]
    return out  # type: ignore[return-value]
