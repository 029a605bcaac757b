"""Scribble images: an expert's strokes marking a few pixels of each class.

A scribble PNG has the map's grid (one image pixel per map pixel). Each pixel is either
unlabelled -- fully transparent (alpha 0) or black (0, 0, 0) -- or painted with exactly
one of the class colours of the :class:`~ebsdphase.core.classes.ClassSet` (ferrite red
(255, 0, 0), martensite blue (0, 0, 255), further classes as in
:data:`ebsdphase.core.classes.PALETTE`), at any non-zero alpha. Paint with anti-aliasing off:
blended edge colours are not class colours and are reported as errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.core.classes import UNLABELLED, ClassSet


def _code(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def read_scribbles(path: str | os.PathLike, shape: tuple[int, int],
                   classes: ClassSet | None = None) -> np.ndarray:
    """Read a scribble PNG into (rows, cols) uint8 class indices, 255 = unlabelled.

    Raises :class:`EbsdphaseError` naming the file when the image is missing, unreadable,
    of another size than ``shape``, or holds colours that are not class colours.
    """
    from PIL import Image, UnidentifiedImageError

    classes = classes or ClassSet()
    p = Path(path)
    if not p.is_file():
        raise EbsdphaseError(f"{p}: no such scribble file")
    try:
        with Image.open(p) as im:
            im.load()
            size = im.size
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise EbsdphaseError(f"{p}: not a readable image ({exc})") from None
    rows, cols = shape
    if (size[1], size[0]) != (rows, cols):
        raise EbsdphaseError(f"{p}: scribble image is {size[1]} x {size[0]} pixels (rows x cols) "
                             f"but the map is {rows} x {cols}")
    code = _code(rgba[..., :3])
    blank = code == 0
    if rgba.shape[-1] == 4:
        blank |= rgba[..., 3] == 0
    out = np.full((rows, cols), UNLABELLED, np.uint8)
    known = np.zeros((rows, cols), bool)
    for k, colour in enumerate(classes.colours):
        hit = ~blank & (code == _code(np.asarray(colour)))
        out[hit] = k
        known |= hit
    bad = ~blank & ~known
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        codes, counts = np.unique(code[bad], return_counts=True)
        order = np.argsort(counts)[::-1][:3]
        examples = ", ".join(
            f"({codes[i] >> 16}, {(codes[i] >> 8) & 255}, {codes[i] & 255}) on {counts[i]} px"
            for i in order)
        legend = ", ".join(f"{n} {tuple(c)}" for n, c in zip(classes.names, classes.colours))
        raise EbsdphaseError(
            f"{p}: {n_bad} pixels have colours that are not class colours ({examples}"
            f"{', ...' if len(codes) > 3 else ''}); class colours: {legend}; unlabelled: "
            "transparent or black (paint with anti-aliasing off)")
    return out


def write_scribbles(path: str | os.PathLike, scribbles: np.ndarray,
                    classes: ClassSet | None = None) -> Path:
    """Write (rows, cols) class indices as an RGBA scribble PNG (transparent = 255), atomically."""
    from PIL import Image

    classes = classes or ClassSet()
    s = np.asarray(scribbles, np.uint8)
    rgba = np.zeros(s.shape + (4,), np.uint8)
    rgba[..., :3] = classes.colourize(s)
    rgba[..., 3] = np.where(s == UNLABELLED, 0, 255)
    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(rgba, mode="RGBA").save(tmp, format="PNG")
    return p


def strokes_from_labels(
    labels: np.ndarray,
    fraction: float = 0.01,
    seed: int = 0,
    length: int | None = None,
    width: int = 3,
    margin: int = 3,
    spread: int = 8,
    strokes_per_class: int = 8,
) -> np.ndarray:
    """Simulated expert scribbles: short straight brush strokes inside the regions of each class.

    About ``fraction`` of all pixels are marked, split evenly between the classes present
    in ``labels`` (255 = unlabelled pixels are never marked). Each stroke is a straight
    segment ``width`` pixels wide and up to ``length`` pixels long (default: the length
    that spends each class's share in about ``strokes_per_class`` strokes, at least 8),
    centred on a random pixel at least ``margin`` pixels inside a region of its class and
    cut where it would leave that interior -- the way an expert paints the middle of grains
    they are sure of, never the boundaries. Strokes are spread over the map: each centre is
    the farthest from earlier strokes among ``spread`` random candidates (``spread=1``:
    uniform at random). Returns (rows, cols) uint8 class indices, 255 elsewhere.
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    rows, cols = labels.shape
    rng = np.random.default_rng(seed)
    out = np.full(labels.shape, UNLABELLED, np.uint8)
    present = [int(c) for c in np.unique(labels) if c != UNLABELLED]
    centres: list[tuple[int, int]] = []
    if not present:
        return out
    budget = fraction * labels.size / len(present)
    if length is None:
        length = max(8, int(round(budget / (strokes_per_class * width))))
    half = width // 2
    brush = np.arange(-half, width - half)
    offsets = np.stack(np.meshgrid(brush, brush, indexing="ij"), -1).reshape(-1, 2)
    steps = np.arange(1, length // 2 + 1)
    for c in present:
        dist = ndimage.distance_transform_edt(labels == c)
        interior = dist > max(margin, half)
        if not interior.any():
            interior = dist > 0
        cand = np.flatnonzero(interior)
        drawn = 0
        for _ in range(10_000):
            if drawn >= budget:
                break
            # an expert spreads strokes over the map: of a few random centres, take the
            # one farthest from the strokes already drawn
            picks = np.array(np.divmod(cand[rng.integers(cand.size, size=spread)], cols)).T
            if centres:
                d = np.min(np.linalg.norm(picks[:, None, :] - np.array(centres)[None], axis=-1), axis=1)
                r0, c0 = (int(v) for v in picks[int(np.argmax(d))])
            else:
                r0, c0 = (int(v) for v in picks[0])
            centres.append((r0, c0))
            theta = rng.uniform(0, np.pi)
            step = np.array([np.sin(theta), np.cos(theta)])
            line = [np.array([[r0, c0]])]
            for sign in (1, -1):   # walk out from the centre until the interior ends
                walk = np.rint(np.array([r0, c0]) + sign * steps[:, None] * step).astype(int)
                inside = ((walk[:, 0] >= 0) & (walk[:, 0] < rows) & (walk[:, 1] >= 0)
                          & (walk[:, 1] < cols))
                inside[inside] = interior[walk[inside, 0], walk[inside, 1]]
                n = int(np.argmin(inside)) if not inside.all() else inside.size
                line.append(walk[:n])
            pts = (np.concatenate(line)[:, None, :] + offsets[None]).reshape(-1, 2)
            ok = (pts[:, 0] >= 0) & (pts[:, 0] < rows) & (pts[:, 1] >= 0) & (pts[:, 1] < cols)
            pts = pts[ok]
            flat = np.unique(pts[:, 0] * cols + pts[:, 1])
            flat = flat[labels.flat[flat] == c]
            drawn += int(np.count_nonzero(out.flat[flat] == UNLABELLED))
            out.flat[flat] = c
    return out
