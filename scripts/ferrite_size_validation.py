"""Maintainer script: which ferrite does a model miss? (validation maps only)

    python scripts/ferrite_size_validation.py MODEL [MODEL ...]

On the 12 validation maps of ``scripts/smooth_validation.py`` (one per paper preset,
428 x 568, seeds 6100-6103, at 0.05, 0.1 and 0.2 um; used neither in training nor in the
held-out test) each map is predicted whole as the card says, and every true ferrite pixel
is put in a bin twice: by the area of the ferrite region it belongs to (8-connected, in
um^2; regions cut by the map's edge in a bin of their own, their size unknown), and by its
distance to the nearest pixel that is not ferrite (um; each bin holds its upper edge).

First table, per preset (its three steps) and pooled, in points of the maps' area:
ferrite called martensite in isolated islands under :data:`ISLAND_UM2` and elsewhere,
martensite called ferrite, and the ferrite fraction error they add up to, so that a user
reads how much of a fraction error the small islands make. Second table, pooled: per bin, the share of all
pixels it holds and the share of its ferrite called martensite. The synthetic labels are
ferrite and martensite only, so "not ferrite" is martensite here.
"""

from __future__ import annotations

import argparse

import numpy as np
from smooth_validation import PRESETS, validation_maps  # the same 12 validation maps (this folder)

#: region areas (um^2) and distances to martensite (um) that the bins start at
AREAS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0)
DISTANCES = (0.0, 0.1, 0.2, 0.4, 0.8)
#: an island is a ferrite region smaller than this (um^2) that the map's edge does not cut
ISLAND_UM2 = 5.0
#: distances are whole multiples of the step: compare them with the bin edges to this (um)
_TOLERANCE = 1e-6


def area_labels() -> list[str]:
    return ([f"{a:g}-{b:g}" for a, b in zip(AREAS[:-1], AREAS[1:])] + [f">= {AREAS[-1]:g}"]
            + ["cut by the edge"])


def distance_labels() -> list[str]:
    return [f"{a:g}-{b:g}" for a, b in zip(DISTANCES[:-1], DISTANCES[1:])] + [f"> {DISTANCES[-1]:g}"]


def missed_ferrite(truth: np.ndarray, predicted: np.ndarray, step: float) -> dict[str, np.ndarray]:
    """Pixel counts of one map: ``by_area`` and ``by_distance``, each (2, bins): row 0 the
    true ferrite pixels of the bin, row 1 those of them predicted martensite; ``islands``:
    (ferrite pixels in islands, of them missed, missed elsewhere, martensite called ferrite)."""
    from scipy import ndimage

    ferrite = truth == 0
    missed = ferrite & (predicted != 0)
    regions, n = ndimage.label(ferrite, structure=np.ones((3, 3), bool))
    size = np.bincount(regions.ravel(), minlength=n + 1)
    lost = np.bincount(regions.ravel(), weights=missed.ravel(), minlength=n + 1)
    edge = np.zeros(n + 1, bool)
    edge[np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])] = True
    which = np.where(edge, len(AREAS), np.digitize(size * step * step, AREAS) - 1)[1:]
    size, lost = size[1:], lost[1:]
    by_area = np.array([[size[which == j].sum() for j in range(len(AREAS) + 1)],
                        [lost[which == j].sum() for j in range(len(AREAS) + 1)]], float)
    island = (which < len(AREAS)) & (size * step * step < ISLAND_UM2)
    distance = ndimage.distance_transform_edt(ferrite)[ferrite] * step
    which = np.digitize(distance - _TOLERANCE, DISTANCES, right=True) - 1
    by_distance = np.array([np.bincount(which, minlength=len(DISTANCES)),
                            np.bincount(which, weights=missed[ferrite], minlength=len(DISTANCES))], float)
    islands = np.array([size[island].sum(), lost[island].sum(), lost[~island].sum(),
                        np.count_nonzero(~ferrite & (predicted == 0))], float)
    return {"by_area": by_area, "by_distance": by_distance, "islands": islands}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    maps = validation_maps()  # each step's maps in the order of PRESETS
    rows, bins = [], []
    for name in args.models:
        bundle = load_bundle(name)
        per_preset = {p: {"islands": np.zeros(4), "pixels": 0} for p in PRESETS}
        area = np.zeros((2, len(AREAS) + 1))
        near = np.zeros((2, len(DISTANCES)))
        for k, s in enumerate(maps):
            r = missed_ferrite(s.labels, predict(s.map, bundle).classes, float(s.map.step[0]))
            per_preset[PRESETS[k % len(PRESETS)]]["islands"] += r["islands"]
            per_preset[PRESETS[k % len(PRESETS)]]["pixels"] += s.labels.size
            area += r["by_area"]
            near += r["by_distance"]
        pooled = {"islands": sum(v["islands"] for v in per_preset.values()),
                  "pixels": sum(v["pixels"] for v in per_preset.values())}
        for label, v in [*per_preset.items(), ("all", pooled)]:
            held, lost, elsewhere, extra = 100 * v["islands"] / v["pixels"]
            rows.append(f"| {name} | {label} | {held:.2f} | {lost:.2f} | {elsewhere:.2f} | {extra:.2f} "
                        f"| {extra - lost - elsewhere:+.2f} |")
        total = pooled["pixels"]

        def cells(counts, labels):
            return "; ".join(f"{b}: {100 * n / total:.2f} / {100 * m / max(n, 1):.1f} %"
                             for b, n, m in zip(labels, counts[0], counts[1]))

        bins.append(f"| {name} | {cells(area, area_labels())} | {cells(near, distance_labels())} |")
        print(f"{name}: done", flush=True)
    print(f"\n| model | preset | ferrite in islands < {ISLAND_UM2:g} um^2 | of it called martensite "
          "| other ferrite called martensite | martensite called ferrite | ferrite fraction error |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| model | by region area (um^2): share of pixels / of its ferrite called martensite "
          "| by distance to martensite (um): the same |")
    print("|---|---|---|")
    print("\n".join(bins))


if __name__ == "__main__":
    main()
