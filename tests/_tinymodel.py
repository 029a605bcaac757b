"""A tiny trained model and hand-made maps for the predict/evaluate/compare tests.

The maps' class comes from smooth random blobs; the BS channel is high in ferrite and low
in martensite with noise, so a small U-Net trained for a few epochs learns a real rule
(smoothed BS threshold). The bundle is trained once per pytest session and shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.classes import ClassSet

os.environ.setdefault("KERAS_BACKEND", "jax")

PHASES = {1: Phase("Iron bcc", "m-3m", (2.87, 2.87, 2.87, 90, 90, 90), 229)}


def blob_map(seed: int, shape=(48, 64), unindexed: float = 0.05, noise: float = 25.0):
    """(EBSDMap with channels bs and bc, labels uint8 0 ferrite / 1 martensite)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 4.0, mode="wrap")
    labels = (field > np.median(field)).astype(np.uint8)
    bs = 170.0 - 60.0 * labels + noise * rng.standard_normal(shape)
    bs = ndimage.gaussian_filter(bs, 0.7)
    q = rng.standard_normal(shape + (4,)).astype(np.float32)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q[..., 0] = np.abs(q[..., 0])
    phase_id = np.where(rng.random(shape) < unindexed, 0, 1).astype(np.int16)
    q[phase_id == 0] = 0
    ebsd = EBSDMap(quaternions=q, phase_id=phase_id, phases=dict(PHASES), step=(0.1, 0.1),
                   channels={"bs": bs.astype(np.float32), "bc": (bs * 0.5).astype(np.float32)})
    return ebsd, labels


def train_tiny_bundle(folder: Path, name: str = "tiny", epochs: int = 8, seed: int = 0) -> Path:
    """Train a depth-3 U-Net with 8 filters on BS for a few epochs; return the card path."""
    import keras

    from ebsdphase.features import ChannelRecipe
    from ebsdphase.models.bundle import save_bundle
    from ebsdphase.models.unet import build_unet

    keras.utils.set_random_seed(seed)
    # the per-map z-score (recipe v1): these blob maps are made to need it (each map's BS is
    # its own scale), and it lets 8 epochs learn the rule; recipe v2 is tested on the
    # pretrained models (tests/test_pretrained.py) and in tests/test_recipe_v2.py
    recipe = ChannelRecipe(("bs",), normalisation="zscore-per-map")
    xs, ys = [], []
    for s in range(4):
        ebsd, lab = blob_map(100 + s, shape=(64, 64))
        x = recipe.build(ebsd)
        for r in (0, 32):
            for c in (0, 32):
                xs.append(x[r:r + 32, c:c + 32])
                ys.append(lab[r:r + 32, c:c + 32])
    x = np.stack(xs)
    y = np.stack(ys)
    params = {"depth": 3, "filters": 8, "dropout": 0.0, "upsampling": "nearest"}
    model = build_unet(1, 2, **params)
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=True)
    return save_bundle(model, folder, name, "unet", params, recipe, ClassSet(),
                       provenance={"trained_on": "tests/_tinymodel.py blob maps"})


def tiny_bundle(tmp_path_factory) -> Path:
    """The session's tiny bundle (trained on first use)."""
    folder = tmp_path_factory.getbasetemp() / "tiny-bundle"
    card = folder / "tiny.json"
    if not card.exists():
        train_tiny_bundle(folder)
    return card
