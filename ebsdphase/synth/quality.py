"""Pattern quality channels (BS, BC, MAD, bands, error) and the non-indexed pixels.

What real DP maps show (paper section 2.3, Fig. 2; notes/dp-steel-microstructure.md):
martensite has lower band slope and contrast than ferrite (more dislocations) but the
histograms overlap; every boundary darkens the pixels on it (overlapping patterns); small
ferrite grains are darker; coarse auto-tempered laths are as bright as ferrite; the map has
slow brightness/contrast drifts, surface roughness and scratches; ~10 % of the pixels are
not indexed, mostly the worst ones, i.e. in martensite and on boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ebsdphase.synth.presets import Preset
from ebsdphase.synth.tessellation import boundaries, grid, smooth_noise

#: Oxford "Error" code written for pixels without a solution (CHANNEL 5: 3 = no solution)
ERROR_NO_SOLUTION = 3


@dataclass
class Quality:
    channels: dict[str, np.ndarray]  # bc, bs, mad, bands, error (float32, integer-valued but mad)
    indexed: np.ndarray              # (rows, cols) bool
    clean: np.ndarray                # (rows, cols) float32 noise-free BS, for orientation noise
    info: dict


def _scratches(rng, shape, n, step):
    """A darkening field (0 = untouched, 1 = fully dark) of ``n`` gently curved scratches."""
    rows, cols = shape
    out = np.zeros(shape, np.float32)
    if n == 0:
        return out
    yy, xx = grid(shape)
    for _ in range(n):
        theta = rng.uniform(0, np.pi)
        ty, tx = np.sin(theta), np.cos(theta)
        y0, x0 = rng.uniform(0, rows), rng.uniform(0, cols)
        half = rng.uniform(5.0, 40.0) / step
        width = rng.uniform(0.8, 2.2)
        depth = rng.uniform(0.3, 0.65)
        bend = rng.normal(0, 0.3) / max(rows, cols)
        s = (yy - y0) * ty + (xx - x0) * tx
        d = -(yy - y0) * tx + (xx - x0) * ty - bend * s * s
        prof = np.exp(-0.5 * (d / width) ** 2) * (np.abs(s) <= half)
        out = np.maximum(out, depth * prof.astype(np.float32))
    return out


def pattern_quality(rng: np.random.Generator, martensite: np.ndarray, unit: np.ndarray,
                    lath: np.ndarray, tempered: np.ndarray, small_ferrite: np.ndarray,
                    preset: Preset, step: float) -> Quality:
    """Band slope and the other pattern channels for a map whose structure is known.

    martensite: (rows, cols) bool truth; unit: crystal-region id (boundaries between units
    are high-angle); lath: lath id (low-angle boundaries inside units); tempered / small_ferrite:
    the confounder masks.
    """
    shape = unit.shape
    px = 1.0 / step
    # per-map acquisition state: the same phase gives other grey levels on another day
    mu_f = rng.uniform(140.0, 165.0)
    contrast = rng.uniform(0.27, 0.32)        # martensite is this much darker than ferrite
    mu_m = mu_f * (1.0 - contrast)

    # per crystal-region level (orientation-dependent pattern quality, local strain)
    _, uinv = np.unique(unit, return_inverse=True)
    uinv = uinv.reshape(shape)
    n_units = int(uinv.max()) + 1
    # clipped: one huge ferrite grain 4 sigma dark would decide a whole small map's score
    unit_off = np.clip(rng.normal(0.0, 1.0, n_units), -2.0, 2.0).astype(np.float32)[uinv]
    level = np.where(martensite, mu_m + 11.0 * unit_off, mu_f + 6.0 * unit_off)
    # auto-tempered laths are recovered: as bright as ferrite, give or take
    t_level = mu_f * rng.uniform(1.05, 1.2, n_units).astype(np.float32)
    level = np.where(tempered, t_level[uinv], level)
    level = np.where(small_ferrite, mu_f - rng.uniform(25.0, 35.0), level)
    level = level.astype(np.float32)

    # boundaries: high-angle ones darken ~2 px, lath boundaries a little
    hab = boundaries(unit)
    lab_b = boundaries(lath) & martensite & ~hab
    d_hab = ndimage.distance_transform_edt(~hab).astype(np.float32)
    d_lab = ndimage.distance_transform_edt(~lab_b).astype(np.float32)
    bfac = (1.0 - 0.22 * np.exp(-0.5 * (d_hab / 1.0) ** 2)) * (1.0 - 0.07 * np.exp(-0.5 * d_lab ** 2))

    # surface: roughness (um scale) and slow drift (map scale), both multiplicative
    rough = 1.0 + 0.035 * smooth_noise(rng, shape, 3.0 * px)
    rows, cols = shape
    yy, xx = grid(shape)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.sin(theta) * (yy / rows - 0.5) + np.cos(theta) * (xx / cols - 0.5)).astype(np.float32)
    drift = 1.0 + rng.uniform(0.03, 0.08) * ramp + 0.025 * smooth_noise(rng, shape, 0.4 * max(rows, cols))
    area_um2 = rows * cols * step * step
    n_scr = int(rng.poisson(preset.scratches_per_1000um2 * area_um2 / 1000.0))
    scratch = _scratches(rng, shape, n_scr, step)

    clean = (level * bfac * rough * drift * (1.0 - scratch)).astype(np.float32)
    texture = 5.0 * smooth_noise(rng, shape, 1.2)  # pattern noise is spatially a bit correlated
    noise = rng.normal(0.0, 13.0, shape).astype(np.float32)
    bs = np.clip(np.rint(clean + texture + noise), 0, 255).astype(np.float32)

    # indexing: the worst patterns fail; the score is quality plus its own luck
    score = clean + 0.5 * texture + rng.normal(0.0, 12.0, shape).astype(np.float32)
    ni_frac = rng.uniform(*preset.nonindexed_fraction)
    n_ni = int(round(ni_frac * score.size))
    indexed = np.ones(shape, bool)
    if n_ni > 0:
        cut = np.partition(score.ravel(), n_ni - 1)[n_ni - 1]
        indexed = score > cut

    bc_noise = rng.normal(0.0, 9.0, shape).astype(np.float32)
    bc = np.clip(np.rint(35.0 + 0.62 * clean + 0.5 * texture + bc_noise), 0, 255).astype(np.float32)
    mad = np.clip(0.22 + 0.55 * (1.0 - clean / 200.0) + rng.normal(0.0, 0.06, shape), 0.05, 2.0)
    mad = np.where(indexed, np.round(mad, 4), 0.0).astype(np.float32)
    bands_i = np.clip(np.rint(4.0 + 8.0 * clean / 180.0 + rng.normal(0.0, 1.0, shape)), 3, 12)
    bands_n = rng.integers(0, 5, shape)
    bands = np.where(indexed, bands_i, bands_n).astype(np.float32)
    error = np.where(indexed, 0, ERROR_NO_SOLUTION).astype(np.float32)
    info = {"bs_ferrite_level": round(float(mu_f), 2), "bs_martensite_level": round(float(mu_m), 2),
            "scratches": n_scr, "nonindexed_target": round(float(ni_frac), 4)}
    return Quality(channels={"bc": bc, "bs": bs, "mad": mad, "bands": bands, "error": error},
                   indexed=indexed, clean=clean, info=info)


def edax_channels(rng: np.random.Generator, qual: Quality) -> dict[str, np.ndarray]:
    """EDAX/TSL channels (IQ, CI, Fit) from the same patterns: what an OIM user's map holds.

    IQ is the Hough peak height: monotonic in pattern quality but on no common scale (about
    1e3 on one real map, 1e5 on another), so its gain is drawn over three decades and its
    response curved a little. CI (0-1) and Fit (deg) follow the quality; non-indexed points
    have CI -1, as OIM writes them.
    """
    bs = qual.channels["bs"]
    idx = qual.indexed
    gain = 10.0 ** rng.uniform(0.5, 3.5)
    gamma = rng.uniform(0.9, 1.6)
    base = np.maximum(bs, 1.0) / 180.0
    iq = gain * 1000.0 * base ** gamma * (1.0 + rng.normal(0.0, 0.03, bs.shape))
    ci = np.clip(0.05 + 0.9 * np.clip(qual.clean / 180.0, 0, 1) ** 2 + rng.normal(0, 0.08, bs.shape), 0.0, 1.0)
    fit = np.clip(0.3 + 1.5 * (1.0 - np.clip(qual.clean / 180.0, 0, 1)) + rng.normal(0, 0.1, bs.shape), 0.1, 5.0)
    return {"iq": np.round(iq, 1).astype(np.float32),
            "ci": np.where(idx, np.round(ci, 3), -1.0).astype(np.float32),
            "fit": np.where(idx, np.round(fit, 3), 0.0).astype(np.float32)}
