"""Random-forest pixel classifier trained on scribbles: the Trainable Weka Segmentation analogue.

The paper pre-labelled its maps with Trainable Weka Segmentation (TWS) on BS images: an
expert paints a few regions of each phase, a random forest learns from multiscale
filter responses at those pixels and classifies every pixel. This module does the same
with scipy.ndimage filters and scikit-learn's ``RandomForestClassifier``.

Features (per channel, each standardised per map on its indexed pixels)
    the value itself, and at every scale sigma (default 1, 2, 4, 8, 16 pixels): Gaussian
    smoothing, Gaussian gradient magnitude, Laplacian of Gaussian, the two eigenvalues of
    the Gaussian Hessian, and the local standard deviation (Gaussian-weighted). With
    ``use_indexed`` the Gaussian-smoothed indexed mask at each scale is added: non-indexed
    pixels cluster in martensite, so their local density is a phase hint a human sees too.
That is 31 features per channel (+6 for the indexed mask): TWS's default filters
(Gaussian, Sobel, Hessian, difference of Gaussians) plus a variance filter, without its
slow membrane projections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.features import parse_names, standardised
from ebsdphase.core.classes import UNLABELLED
from ebsdphase.labelling.threshold import LABEL_CHANNEL

if TYPE_CHECKING:
    from ebsdphase.core.ebsdmap import EBSDMap

#: the scales of Trainable Weka Segmentation's defaults (minimum sigma 1, maximum 16)
DEFAULT_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0)
#: per-class cap on training pixels: scribbles of a whole map can reach 1e5 pixels; a
#: random subset of this size trains as well and keeps training to about a second.
MAX_SAMPLES_PER_CLASS = 20_000
#: rows classified per predict call: bounds the (rows x trees x classes) temporaries.
_PREDICT_CHUNK = 200_000


def multiscale_features(image: np.ndarray, sigmas: Sequence[float] = DEFAULT_SIGMAS) -> np.ndarray:
    """The filter bank of one (rows, cols) image: (rows, cols, 1 + 6 * len(sigmas)) float32."""
    from scipy import ndimage

    x = np.asarray(image, np.float32)
    x2 = x * x
    feats = [x]
    for s in sigmas:
        g = ndimage.gaussian_filter(x, s, output=np.float32)
        grad = ndimage.gaussian_gradient_magnitude(x, s, output=np.float32)
        hrr = ndimage.gaussian_filter(x, s, order=(2, 0), output=np.float32)
        hcc = ndimage.gaussian_filter(x, s, order=(0, 2), output=np.float32)
        hrc = ndimage.gaussian_filter(x, s, order=(1, 1), output=np.float32)
        half_trace = 0.5 * (hrr + hcc)
        root = np.sqrt((0.5 * (hrr - hcc)) ** 2 + hrc * hrc)
        var = ndimage.gaussian_filter(x2, s, output=np.float32) - g * g
        feats += [g, grad, hrr + hcc, half_trace + root, half_trace - root,
                  np.sqrt(np.maximum(var, 0.0))]
    return np.stack(feats, axis=-1)


def map_features(ebsd: "EBSDMap", channels: Sequence[str] = (LABEL_CHANNEL,),
                 sigmas: Sequence[float] = DEFAULT_SIGMAS, use_indexed: bool = True) -> np.ndarray:
    """All features of ``ebsd``: (rows, cols, F) float32 (see the module docstring)."""
    from scipy import ndimage

    parts = [multiscale_features(standardised(ebsd, ch), sigmas) for ch in channels]
    if use_indexed:
        ind = ebsd.indexed.astype(np.float32)
        parts.append(np.stack([ind] + [ndimage.gaussian_filter(ind, s, output=np.float32)
                                       for s in sigmas], axis=-1))
    return np.concatenate(parts, axis=-1)


@dataclass
class PixelForest:
    """A trained pixel classifier; ``predict(map)`` labels every pixel of any map."""

    channels: tuple[str, ...]
    sigmas: tuple[float, ...]
    use_indexed: bool
    classifier: Any = field(repr=False)

    def features(self, ebsd: "EBSDMap") -> np.ndarray:
        return map_features(ebsd, self.channels, self.sigmas, self.use_indexed)

    def predict(self, ebsd: "EBSDMap") -> np.ndarray:
        """(rows, cols) uint8 class indices for every pixel of ``ebsd``."""
        f = self.features(ebsd)
        flat = f.reshape(-1, f.shape[-1])
        out = np.empty(flat.shape[0], np.uint8)
        for i in range(0, flat.shape[0], _PREDICT_CHUNK):
            out[i:i + _PREDICT_CHUNK] = self.classifier.predict(flat[i:i + _PREDICT_CHUNK])
        return out.reshape(ebsd.shape)


def train_forest(
    maps: Sequence["EBSDMap"] | "EBSDMap",
    scribbles: Sequence[np.ndarray] | np.ndarray,
    channels: Sequence[str] | str = (LABEL_CHANNEL,),
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    use_indexed: bool = True,
    n_estimators: int = 50,
    max_samples_per_class: int = MAX_SAMPLES_PER_CLASS,
    seed: int = 0,
    n_jobs: int | None = None,
) -> PixelForest:
    """Train a random forest on the scribbled pixels of one or several maps.

    ``scribbles`` are (rows, cols) uint8 arrays on each map's grid (255 = unlabelled), e.g.
    from :func:`ebsdphase.labelling.scribbles.read_scribbles`. Maps may differ in size;
    their features are standardised per map so one forest serves them all (the paper
    trained TWS on 3 maps and applied it to 15).
    """
    from sklearn.ensemble import RandomForestClassifier

    if not isinstance(maps, (list, tuple)):
        maps, scribbles = [maps], [scribbles]
    if len(maps) != len(scribbles):
        raise EbsdphaseError(f"{len(maps)} maps but {len(scribbles)} scribble images")
    channels = parse_names(channels)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for ebsd, s in zip(maps, scribbles):
        s = np.asarray(s)
        if s.shape != ebsd.shape:
            raise EbsdphaseError(f"{ebsd.source or 'map'}: scribbles are {s.shape[0]} x {s.shape[1]} "
                                 f"but the map is {ebsd.rows} x {ebsd.cols}")
        mask = s != UNLABELLED
        if not mask.any():
            continue
        f = map_features(ebsd, channels, sigmas, use_indexed)
        xs.append(f[mask])
        ys.append(s[mask])
    if not xs:
        raise EbsdphaseError("the scribbles mark no pixel: paint a few strokes of each class")
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    present = np.unique(y)
    if present.size < 2:
        raise EbsdphaseError(f"the scribbles mark only class {int(present[0])}: the forest needs "
                             "strokes of at least two classes")
    keep = []
    for c in present:   # cap each class so a heavily painted class cannot swamp the others
        idx = np.flatnonzero(y == c)
        if idx.size > max_samples_per_class:
            idx = rng.choice(idx, max_samples_per_class, replace=False)
        keep.append(idx)
    keep = np.concatenate(keep)
    clf = RandomForestClassifier(
        n_estimators=n_estimators,
        # TWS uses sqrt(F)-ish random features per split too; balanced weights because an
        # expert rarely paints equal areas of each phase
        class_weight="balanced",
        min_samples_leaf=2,
        n_jobs=n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1),
        random_state=seed,
    )
    clf.fit(x[keep], y[keep])
    return PixelForest(channels, tuple(float(s) for s in sigmas), use_indexed, clf)

