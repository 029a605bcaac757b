"""A small hand-made map with exact grains and labels, shared by the labelling and baseline tests."""

from __future__ import annotations

import numpy as np

from ebsdphase import EBSDMap, Phase


def block_map(seed: int = 0, noise: float = 12.0):
    """A 48 x 64 map of 4 x 4 rectangular grains of 12 x 16 pixels, distinct orientations.

    Grains on a chequerboard are martensite (BS ~ 80) or ferrite (BS ~ 160); a line of
    non-indexed pixels runs along the ferrite/ferrite boundary at column 48 in the top rows,
    and a few non-indexed pixels sit inside martensite grains.
    """
    rng = np.random.default_rng(seed)
    rows, cols = 48, 64
    gid = (np.arange(rows)[:, None] // 12) * 4 + np.arange(cols)[None, :] // 16
    truth = np.zeros((rows, cols), np.uint8)
    mart_grains = {1, 4, 6, 11, 13}   # grains 2 and 3 (top, cols 32..63) are ferrite
    for g in mart_grains:
        truth[gid == g] = 1
    euler = rng.uniform(0, [2 * np.pi, np.pi, 2 * np.pi], size=(16, 3))[gid]
    bs = np.where(truth == 1, 80.0, 160.0) + rng.normal(0, noise, (rows, cols))
    phase = np.ones((rows, cols), np.int16)
    phase[0:12, 47:49] = 0                      # ferrite/ferrite boundary line, 2 px wide
    inside = (truth == 1) & (rng.random((rows, cols)) < 0.08)
    phase[inside] = 0
    bs[phase == 0] = rng.uniform(10, 40, int((phase == 0).sum()))
    m = EBSDMap.from_euler(euler, phase, {1: Phase("ferrite")}, (0.1, 0.1),
                           channels={"bs": bs.astype(np.float32)}, source="block.test")
    return m, truth, gid.astype(np.int32)


def as_edax(m):
    """The same map as an EDAX file would hold it: its quality as IQ, no BS."""
    import dataclasses

    return dataclasses.replace(m, channels={"iq": m.channels["bs"]})
