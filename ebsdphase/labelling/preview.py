"""A preview PNG for checking labels by eye: class colours blended over a quality image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.classes import UNLABELLED, ClassSet

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

#: background channels in order of preference (the paper labels on BS images)
BACKGROUND_CHANNELS = ("bs", "bc", "iq", "ci")


def background(ebsd: "EBSDMap") -> np.ndarray:
    """(rows, cols) uint8 grey image: the first of bs/bc/iq/ci, else the indexed mask."""
    for name in BACKGROUND_CHANNELS:
        if name in ebsd.channels:
            v = np.asarray(ebsd.channels[name], np.float64)
            finite = np.isfinite(v)
            if not finite.any():
                continue
            # 1-99 % stretch: a few saturated pixels must not flatten the contrast
            lo, hi = np.percentile(v[finite], [1, 99])
            scaled = np.clip((np.where(finite, v, lo) - lo) / max(hi - lo, 1e-12), 0, 1)
            return (255 * scaled).astype(np.uint8)
    return np.where(ebsd.indexed, 200, 40).astype(np.uint8)


def preview_image(ebsd: "EBSDMap", labels: np.ndarray, classes: ClassSet | None = None,
                  alpha: float = 0.45) -> np.ndarray:
    """(rows, cols, 3) uint8: label colours at ``alpha`` over the grey background."""
    classes = classes or ClassSet()
    grey = background(ebsd).astype(np.float32)[..., None].repeat(3, axis=-1)
    colour = classes.colourize(np.asarray(labels, np.uint8)).astype(np.float32)
    labelled = (np.asarray(labels) != UNLABELLED)[..., None]
    out = np.where(labelled, (1 - alpha) * grey + alpha * colour, grey)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_preview(path: str | os.PathLike, ebsd: "EBSDMap", labels: np.ndarray,
                  classes: ClassSet | None = None, alpha: float = 0.45) -> Path:
    """Write :func:`preview_image` as an RGB PNG, atomically."""
    from PIL import Image

    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(preview_image(ebsd, labels, classes, alpha), mode="RGB").save(tmp, format="PNG")
    return p
