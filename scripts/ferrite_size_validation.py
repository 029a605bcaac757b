"""Maintainer script: which ferrite does a model miss? (validation maps only)

    python scripts/ferrite_size_validation.py MODEL [MODEL ...]

The ferrite fractions of the held-out maps are worst on the complex preset with little
ferrite, and the cause is not the step: it is the size of the ferrite. On the 12 validation
maps of ``scripts/smooth_validation.py`` (one per paper preset, 428 x 568, seeds
6100-6103, at 0.05, 0.1 and 0.2 um; used neither in training nor in the held-out test),
each map is predicted whole as the card says and every true ferrite pixel is put in a bin
twice: by the area of the ferrite region it belongs to (4-connected, in um^2), and by its
distance to the nearest martensite pixel (um). Per bin: the share of all pixels it holds
and the share of its ferrite called martensite. A user whose ferrite comes in islands of a
few um^2 reads here how much of it a model will miss.
"""

from __future__ import annotations

import argparse

import numpy as np
from smooth_validation import validation_maps  # the same 12 validation maps (this folder)

#: region areas (um^2) and distances to martensite (um) that the bins start at
AREAS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0)
DISTANCES = (0.0, 0.1, 0.2, 0.4, 0.8)


def _bins(edges: tuple[float, ...]) -> list[str]:
    return [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:])] + [f">= {edges[-1]:g}"]


def missed_ferrite(truth: np.ndarray, predicted: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, missed) per area bin and per distance bin, each a (2, n) array of pixel counts:
    row 0 the true ferrite pixels of the bin, row 1 those of them predicted martensite."""
    from scipy import ndimage

    ferrite = truth == 0
    missed = ferrite & (predicted != 0)
    regions, _ = ndimage.label(ferrite)
    size = np.bincount(regions.ravel())[1:]
    lost = np.bincount(regions.ravel(), weights=missed.ravel())[1:]
    which = np.digitize(size * step * step, AREAS) - 1
    by_area = np.array([[size[which == j].sum() for j in range(len(AREAS))],
                        [lost[which == j].sum() for j in range(len(AREAS))]], float)
    # distance from each ferrite pixel to the nearest non-ferrite pixel (centre to centre)
    distance = ndimage.distance_transform_edt(ferrite) * step
    which = np.digitize(distance[ferrite], DISTANCES, right=True) - 1
    by_distance = np.array([np.bincount(which, minlength=len(DISTANCES)),
                            np.bincount(which, weights=missed[ferrite], minlength=len(DISTANCES))], float)
    return by_area, by_distance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    from ebsdphase.models.bundle import load_bundle
    from ebsdphase.prediction.engine import predict

    maps = validation_maps()
    total = sum(s.labels.size for s in maps)
    print("| model | by region area (um^2): share of pixels / of its ferrite called martensite "
          "| by distance to martensite (um): the same |")
    print("|---|---|---|")
    for name in args.models:
        bundle = load_bundle(name)
        area = np.zeros((2, len(AREAS)))
        near = np.zeros((2, len(DISTANCES)))
        for s in maps:
            a, d = missed_ferrite(s.labels, predict(s.map, bundle).classes, float(s.map.step[0]))
            area += a
            near += d

        def cells(counts, labels):
            return "; ".join(f"{b}: {100 * n / total:.2f} / {100 * m / max(n, 1):.1f} %"
                             for b, n, m in zip(labels, counts[0], counts[1]))

        print(f"| {name} | {cells(area, _bins(AREAS))} | {cells(near, _bins(DISTANCES))} |", flush=True)


if __name__ == "__main__":
    main()
