"""Assemble a synthetic dual-phase map: structure, orientations, pattern quality, files."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdphase.crystal.quaternion import from_rotvec, qmul
from ebsdphase.core.cleanup import fill_channels, nearest_indexed
from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.synth.ferrite import grow_ferrite
from ebsdphase.synth.martensite import form_martensite
from ebsdphase.synth.presets import Preset, get_preset
from ebsdphase.synth.quality import edax_channels, pattern_quality
from ebsdphase.synth.tessellation import grid, prior_austenite, random_orientations, smooth_noise

FERRITE, MARTENSITE = 0, 1
IRON_BCC = Phase(name="Iron bcc", laue="m-3m", lattice=(2.87, 2.87, 2.87, 90.0, 90.0, 90.0),
                 space_group=229)

# Orientation noise and lattice curvature, in degrees. Calibrated so that the 3x3 / 3 deg
# KAM averages ~0.2 deg in ferrite and ~0.5 deg in martensite (paper, section 2.3).
NOISE_FERRITE_DEG = 0.085
NOISE_MARTENSITE_DEG = 0.12
CURVATURE_FERRITE_DEG = 0.8      # over ~3 um
CURVATURE_MARTENSITE_DEG = 0.45  # over ~0.6 um
CURVATURE_TEMPERED_DEG = 0.3


@dataclass
class SynthResult:
    map: EBSDMap
    labels: np.ndarray  # (rows, cols) uint8, 0 ferrite, 1 martensite, every pixel
    info: dict          # parameters, seed and true fractions (the JSON sidecar)


def _orientation_field(rng, shape, scale_px):
    return np.stack([smooth_noise(rng, shape, scale_px) for _ in range(3)], axis=-1)


def _ferrite_gradients(rng, grain, n_grains, step, deg_per_um):
    """(rows, cols, 3) rotation vectors (deg) of a linear in-grain orientation gradient per
    ferrite grain: plastic deformation bends grains (raised KAM, as in DC06)."""
    g = np.maximum(grain, 0)
    axis = rng.standard_normal((n_grains, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    theta = rng.uniform(0, 2 * np.pi, n_grains)
    rate = deg_per_um * rng.uniform(0.3, 1.0, n_grains) * step  # deg per pixel
    yy, xx = grid(grain.shape)
    # distance along the gradient direction from the grain's own centroid
    n = np.bincount(g.ravel(), minlength=n_grains).astype(np.float64)
    cy = np.bincount(g.ravel(), weights=yy.ravel(), minlength=n_grains) / np.maximum(n, 1)
    cx = np.bincount(g.ravel(), weights=xx.ravel(), minlength=n_grains) / np.maximum(n, 1)
    s = (yy - cy[g]) * np.sin(theta)[g] + (xx - cx[g]) * np.cos(theta)[g]
    return (s * rate[g])[..., None] * axis[g]


def _clean(q, indexed, channels):
    """Fill non-indexed pixels from the nearest indexed one (AZtec/OIM clean-up,
    :mod:`ebsdphase.core.cleanup`): the map is then 100 % indexed, the filled pixels keep
    their own (poor) pattern quality."""
    near = nearest_indexed(indexed)
    if near is None:
        return q, indexed
    iy, ix = near
    channels.update(fill_channels(channels, iy, ix))
    return q[iy, ix], np.ones_like(indexed)


def synthesize(preset: str | Preset = "t2", seed: int = 0, shape: tuple[int, int] = (856, 1136),
               step: float | None = None) -> SynthResult:
    """Generate one map with its labels and the description written to the JSON sidecar.

    ``step`` None takes the preset's own (drawn by ``random``) or 0.1 um."""
    p = get_preset(preset, seed)
    if step is None:
        step = p.step_um if p.step_um is not None else 0.1
    step = float(step)
    rows, cols = (int(v) for v in shape)
    if rows < 16 or cols < 16:
        raise EbsdphaseError(f"map size {rows} x {cols} is too small (at least 16 x 16)")
    if not (0.005 <= step <= 5.0):
        raise EbsdphaseError(f"step {step} um is outside 0.005-5 um")
    rng = np.random.default_rng(seed)
    shape = (rows, cols)
    px = 1.0 / step

    pag, n_pag = prior_austenite(rng, shape, p.pag_size_um * px)
    parent_q = random_orientations(rng, n_pag)
    fer = grow_ferrite(rng, pag, parent_q, p, step)
    mar = form_martensite(rng, pag, parent_q, fer, p, step)
    is_m = fer.grain < 0
    labels = np.where(is_m, MARTENSITE, FERRITE).astype(np.uint8)

    # crystal regions for the quality model: ferrite grains and martensite variant regions
    unit = np.where(is_m, mar.unit, -2 - fer.grain.astype(np.int64))
    small = ~is_m & fer.small[np.maximum(fer.grain, 0)]
    qual = pattern_quality(rng, is_m, unit, mar.lath, mar.tempered, small, p, step)

    # orientations: base + smooth lattice curvature + pixel noise (worse patterns, more noise)
    base = np.where(is_m[..., None], mar.orientation, fer.orientation[np.maximum(fer.grain, 0)])
    curv_f = _orientation_field(rng, shape, 3.0 * px)
    curv_m = _orientation_field(rng, shape, 0.6 * px)
    amp_m = np.where(mar.tempered, CURVATURE_TEMPERED_DEG, CURVATURE_MARTENSITE_DEG)
    curv = np.where(is_m[..., None], curv_m * amp_m[..., None] * p.martensite_spread,
                    curv_f * CURVATURE_FERRITE_DEG * p.ferrite_curvature)
    if p.ferrite_deformation > 0 and len(fer.orientation):
        bend = _ferrite_gradients(rng, fer.grain, len(fer.orientation), step, p.ferrite_deformation)
        curv = curv + np.where(is_m[..., None], 0.0, bend)
    if p.ferrite_cells_deg > 0:
        cell, n_cells = prior_austenite(rng, shape, p.ferrite_cell_um * px)
        axis = rng.standard_normal((n_cells, 3))
        axis *= (p.ferrite_cells_deg * rng.uniform(0.3, 1.0, n_cells) / np.linalg.norm(axis, axis=1))[:, None]
        curv = curv + np.where(is_m[..., None], 0.0, axis[cell])
    sigma = np.where(is_m & ~mar.tempered, NOISE_MARTENSITE_DEG * p.martensite_spread, NOISE_FERRITE_DEG)
    sigma = sigma * p.noise_scale * np.clip(140.0 / np.maximum(qual.clean, 20.0), 0.7, 3.0)
    noise = rng.standard_normal(shape + (3,)) * sigma[..., None]
    rot = np.radians(curv + noise)
    q = qmul(from_rotvec(rot), base)
    q *= np.where(q[..., :1] < 0, -1.0, 1.0)
    q = q.astype(np.float32)
    q[~qual.indexed] = 0.0
    channels = qual.channels
    if p.vendor == "edax":
        channels = edax_channels(rng, qual)
    elif p.vendor != "oxford":
        raise EbsdphaseError(f"unknown vendor {p.vendor!r} (oxford or edax)")
    indexed = qual.indexed
    if p.cleaned:
        q, indexed = _clean(q, indexed, channels)

    emap = EBSDMap(quaternions=q, phase_id=indexed.astype(np.int16), phases={1: IRON_BCC},
                   step=(step, step), channels=channels, source=None, format="synthetic",
                   metadata={"generator": "ebsdphase.synth", "preset": p.name, "seed": int(seed),
                             # the paper's acquisition (section 2.2), for the .ctf header
                             "acquisition": {"Mag": 1000, "KV": 20, "TiltAngle": 70}})

    idx = indexed
    n_idx = max(int(np.count_nonzero(idx)), 1)
    info = {
        "generator": "ebsdphase.synth",
        "preset": p.name,
        "seed": int(seed),
        "shape": [rows, cols],
        "step_um": step,
        "parameters": p.to_dict(),
        "prior_austenite_grains": int(n_pag),
        "ferrite_grains": int(len(fer.orientation)),
        "fractions_all": {"ferrite": float(np.mean(labels == FERRITE)),
                          "martensite": float(np.mean(labels == MARTENSITE))},
        "fractions_indexed": {"ferrite": float(np.count_nonzero(idx & (labels == FERRITE)) / n_idx),
                              "martensite": float(np.count_nonzero(idx & (labels == MARTENSITE)) / n_idx)},
        "indexed_fraction": float(np.mean(idx)),
        "indexed_before_cleaning": float(np.mean(qual.indexed)),
        "confounders": {"tempered_martensite": float(np.mean(mar.tempered)),
                        "widmanstatten_ferrite": float(np.mean(fer.plate)),
                        "martensite_beside_plates": float(np.mean(mar.beside_plate)),
                        "small_ferrite": float(np.mean(small))},
        "acquisition": qual.info,
        "classes": ["ferrite", "martensite"],
    }
    return SynthResult(map=emap, labels=labels, info=info)


def generate(preset: str | Preset = "t2", seed: int = 0, shape: tuple[int, int] = (856, 1136),
             step: float = 0.1) -> tuple[EBSDMap, np.ndarray]:
    """A synthetic dual-phase steel EBSD map and its exact labels.

    Returns ``(map, labels)``: ``labels`` is (rows, cols) uint8, 0 ferrite, 1 martensite,
    for every pixel (non-indexed ones included, with their true class). The same arguments
    always give the same map.
    """
    r = synthesize(preset, seed, shape, step)
    return r.map, r.labels


def write_synthetic(result: SynthResult, folder: str | Path, stem: str, preview: bool = False,
                    suffix: str = ".ctf") -> list[Path]:
    """Write ``<stem><suffix>`` (a .ctf by default, or any writable map format such as
    .ebsd.h5), ``<stem>.labels.png`` (+ sidecar) and ``<stem>.json`` (and
    ``<stem>.preview.png``) into ``folder``; returns the paths written."""
    from ebsdphase.core.atomic import write_text_atomic
    from ebsdphase.io import write_map
    from ebsdphase.core.classes import ClassSet, labels_path, write_labels

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ctf = folder / f"{stem}{suffix}"
    write_map(result.map, ctf)
    lab = write_labels(labels_path(ctf), result.labels, ClassSet())
    side = folder / f"{stem}.json"
    write_text_atomic(side, json.dumps(result.info, indent=2) + "\n")
    out = [ctf, lab, side]
    if preview:
        from ebsdphase.plots import synth_preview

        out.append(synth_preview(folder / f"{stem}.preview.png", result))
    return out


def map_stem(preset: str | Preset, seed: int) -> str:
    """File stem of a generated map: ``synth_<preset>_<seed>``."""
    return f"synth_{get_preset(preset).name}_{int(seed):04d}"


def synth_maps(folder: str | Path, preset: str | Preset = "t2", count: int = 1, seed: int = 0,
               shape: tuple[int, int] = (856, 1136), step: float | None = None, preview: bool = False,
               on_map=None, overrides: dict | None = None,
               ranges: dict[str, tuple[float, float]] | None = None) -> list[Path]:
    """Generate ``count`` maps with seeds ``seed, seed + 1, ...`` and write them to ``folder``.

    ``step`` None: the preset's own (drawn per seed by ``random``) or 0.1 um. ``overrides``
    replaces fields of each map's preset (e.g. ``{"vendor": "edax", "cleaned": True}``);
    ``ranges`` draws a field per map, uniformly in ``(low, high)`` from the map's seed and the
    field's name (e.g. ``{"tempered_fraction": (0.0, 0.3)}``), so that the preset's other
    draws for that seed stay what they were.
    Oxford-like maps are written as ``.ctf``; EDAX-like ones (IQ, CI, Fit, which a .ctf
    cannot hold) as ``.ebsd.h5``. ``on_map(i, paths)`` is called after each map (for
    progress bars). Returns the map paths.
    """
    import dataclasses

    if count < 1:
        raise EbsdphaseError(f"count={count}: must be at least 1")
    out = []
    for i in range(count):
        s = seed + i
        p = get_preset(preset, s)
        if overrides:
            p = dataclasses.replace(p, **overrides)
        if ranges:  # one generator per field: a field's draw does not depend on the others given
            p = dataclasses.replace(p, **{k: float(np.random.default_rng([int(s), zlib.crc32(k.encode())])
                                                   .uniform(lo, hi)) for k, (lo, hi) in ranges.items()})
        result = synthesize(p, s, shape, step)
        suffix = ".ebsd.h5" if p.vendor == "edax" else ".ctf"
        paths = write_synthetic(result, folder, map_stem(p, s), preview=preview, suffix=suffix)
        out.append(paths[0])
        if on_map is not None:
            on_map(i, paths)
    return out
