"""Per-grain results: which grains are ferrite, and the fractions by area and by count.

Grains are detected on the map's orientations (:func:`ebsdphase.crystal.grains`, 2 deg by
default, as the labelling's grain majority, grains under 5 pixels merged into a neighbour;
every indexed pixel belongs to a grain). For
each grain: its area (pixels x step area, um^2), centroid (um, x along the columns, y down
the rows), the phase with the largest mean probability over its pixels, that mean
probability, the mean KAM (3 x 3, 3 deg) and the mean of the map's quality channel. A grain
indexed as another phase than body-centred iron (the austenite of a duplex map) is written
as :data:`~ebsdphase.core.classes.OTHER_PHASE_LABEL` and left out of the grain fractions,
which are then those of the iron, as the pixel fractions over ``bcc_iron``.

:func:`smooth_by_grains` gives every pixel of a grain the grain's phase (``predict
--smooth grains``): the phase boundaries then follow grain boundaries, as an expert's
labelling does. :func:`blend_with_grains` (``--smooth soft``) averages each pixel's
probabilities half and half with its grain's mean: a pixel the network is unsure of takes
its grain's phase, a confident one keeps its own, and a grain whose mean sits near 0.5
(as a grain cut by a crop's edge may) does not flip as a whole.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdphase.core.atomic import write_text_atomic
from ebsdphase.core.classes import OTHER_PHASE_LABEL

#: grain boundary angle (degrees), as ``label --grain-angle``
GRAIN_ANGLE = 2.0
#: weight of a pixel's own probabilities in ``--smooth soft`` (the rest: its grain's mean);
#: chosen on validation maps only (seeds 6100-6103; docs/pretrained-models.md, "Half pixel,
#: half grain")
SOFT_PIXEL_WEIGHT = 0.5
#: grains smaller than this (pixels) are merged into their neighbour of the same crystal
#: phase: one- and two-pixel "grains" (noise, lath fragments) would dominate the count
MIN_SIZE = 5
SUFFIX = ".grains.csv"


@dataclass
class GrainTable:
    """One entry per grain (arrays of equal length), and the class names."""

    classes: tuple[str, ...]
    ids: np.ndarray
    pixels: np.ndarray
    area_um2: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    phase: np.ndarray            # class index
    probability: np.ndarray      # mean probability of that class over the grain
    kam_deg: np.ndarray
    quality: np.ndarray | None
    quality_name: str | None
    grain_ids: np.ndarray        # (rows, cols) the grain of every pixel, -1 not indexed
    mean_probabilities: np.ndarray  # (grains, K) mean probability of every class
    #: grains indexed as another phase than body-centred iron (None: the map has none)
    other: np.ndarray | None = None

    def phase_names(self) -> list[str]:
        """Each grain's phase as written: its class, or OTHER_PHASE_LABEL for another phase."""
        names = [self.classes[int(k)] for k in self.phase]
        if self.other is not None:
            names = [OTHER_PHASE_LABEL if o else n for n, o in zip(names, self.other)]
        return names

    def fractions(self) -> dict[str, dict[str, float]]:
        """{"by_area": {class: share}, "by_count": {class: share}} over the grains of iron."""
        return grain_fractions(self.phase_names(), self.area_um2, self.classes)


def grain_fractions(phases, areas, classes) -> dict[str, dict[str, float]]:  # noqa: ANN001
    """Fractions by grain area and by grain count of grains with ``phases`` (names) and
    ``areas``, for each of ``classes``, over the grains of these classes (another phase's
    grains, :data:`OTHER_PHASE_LABEL`, are left out)."""
    phases = np.asarray(list(phases), dtype=object)
    areas = np.asarray(areas, np.float64)
    known = np.isin(phases, list(classes))
    phases, areas = phases[known], areas[known]
    total, n = float(areas.sum()), len(phases)
    out: dict[str, dict[str, float]] = {"by_area": {}, "by_count": {}}
    for name in classes:
        sel = phases == name
        out["by_area"][name] = float(areas[sel].sum()) / total if total else float("nan")
        out["by_count"][name] = float(np.count_nonzero(sel)) / n if n else float("nan")
    return out


def read_grain_fractions(path: str | os.PathLike, classes) -> dict[str, dict[str, float]]:  # noqa: ANN001
    """:func:`grain_fractions` of a ``<stem>.grains.csv`` written by :func:`write_grains_csv`."""
    from ebsdphase.core.errors import EbsdphaseError

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return grain_fractions([r["phase"] for r in rows], [float(r["area_um2"]) for r in rows], classes)
    except (OSError, KeyError, ValueError) as exc:
        raise EbsdphaseError(f"{path}: unreadable grain table ({exc})") from None


def _means(ids: np.ndarray, values: np.ndarray, n: int, counts: np.ndarray) -> np.ndarray:
    ok = ids >= 0
    sums = np.bincount(ids[ok], weights=np.asarray(values, np.float64)[ok], minlength=n)
    return sums / np.maximum(counts, 1)


def grain_table(pred, ebsd, angle: float = GRAIN_ANGLE, min_size: int = MIN_SIZE) -> GrainTable:
    """The per-grain table of prediction ``pred`` on map ``ebsd``."""
    from ebsdphase.crystal import grains, kam
    from ebsdphase.features import quality_source

    gid = np.asarray(grains(ebsd, angle, min_size))
    n = int(gid.max()) + 1 if gid.size and gid.max() >= 0 else 0
    ok = gid >= 0
    counts = np.bincount(gid[ok], minlength=n).astype(np.float64)
    rows, cols = np.indices(gid.shape)
    sx, sy = float(ebsd.step[0]), float(ebsd.step[1])
    probs = np.asarray(pred.probabilities, np.float64)
    mean_p = np.stack([_means(gid, probs[..., k], n, counts) for k in range(probs.shape[-1])], -1)
    phase = mean_p.argmax(-1).astype(np.uint8) if n else np.zeros(0, np.uint8)
    other = pred.other_phase()
    if other is not None:
        # by the majority of the grain's pixels: a grain of a filled (cleaned) map holds
        # pixels that were not indexed, which are neither iron nor the other phase
        other = _means(gid, other, n, counts) > _means(gid, pred.iron, n, counts)
    qname = quality_source(ebsd)
    quality = None
    if qname is not None:
        q = np.where(np.isfinite(ebsd.channels[qname]), ebsd.channels[qname], 0.0)
        quality = _means(gid, q, n, counts)
    return GrainTable(
        classes=tuple(pred.class_set.names), ids=np.arange(n), pixels=counts.astype(np.int64),
        area_um2=counts * sx * sy,
        x_um=_means(gid, cols, n, counts) * sx, y_um=_means(gid, rows, n, counts) * sy,
        phase=phase, probability=mean_p[np.arange(n), phase] if n else np.zeros(0),
        kam_deg=_means(gid, kam(ebsd, 1, 3.0), n, counts), quality=quality, quality_name=qname,
        grain_ids=gid, mean_probabilities=mean_p.reshape(n, probs.shape[-1]), other=other)


def smooth_by_grains(pred, table: GrainTable):
    """``pred`` with every indexed pixel given its grain's phase (probabilities unchanged)."""
    classes = np.array(pred.classes, copy=True)
    ok = table.grain_ids >= 0
    classes[ok] = table.phase[table.grain_ids[ok]]
    return dataclasses.replace(pred, classes=classes)


def blend_with_grains(pred, table: GrainTable, pixel_weight: float = SOFT_PIXEL_WEIGHT):
    """``pred`` with every indexed pixel's probabilities replaced by ``pixel_weight`` x its own
    + (1 - ``pixel_weight``) x its grain's mean (classes and entropy follow); non-indexed
    pixels keep theirs."""
    from ebsdphase.prediction.result import from_probabilities

    probs = np.array(pred.probabilities, dtype=np.float32, copy=True)
    ok = table.grain_ids >= 0
    grain = table.mean_probabilities[table.grain_ids[ok]].astype(np.float32)
    probs[ok] = np.float32(pixel_weight) * probs[ok] + np.float32(1.0 - pixel_weight) * grain
    fresh = from_probabilities(probs)
    return dataclasses.replace(pred, classes=fresh.classes, probabilities=fresh.probabilities,
                               entropy=fresh.entropy)


def write_grains_csv(path: str | os.PathLike, table: GrainTable) -> Path:
    """``<stem>.grains.csv``: one row per grain, written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    qcol = f"mean_{table.quality_name}" if table.quality_name else "mean_quality"
    w.writerow(["grain", "pixels", "area_um2", "x_um", "y_um", "phase", "mean_probability", "mean_kam_deg", qcol])
    names = table.phase_names()
    for i in range(len(table.ids)):
        w.writerow([int(table.ids[i]), int(table.pixels[i]), f"{table.area_um2[i]:.6g}", f"{table.x_um[i]:.4f}",
                    f"{table.y_um[i]:.4f}", names[i], f"{table.probability[i]:.4f}",
                    f"{table.kam_deg[i]:.4f}", "" if table.quality is None else f"{table.quality[i]:.6g}"])
    p = Path(path)
    write_text_atomic(p, buf.getvalue())
    return p
