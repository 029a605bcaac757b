"""Real two-phase maps split in two: train on the top part, test on the bottom part.

No labelled ferrite/martensite map is public, but real two-phase steels with an indexed
phase are (``../shared/data``): the phase column is the ground truth, the network sees only
quality channels and KAM (never the phase). Splitting each map into a top part for
training and a bottom part for testing measures what a lab gets when it labels one map of
its own: :data:`REAL_SPLITS`, :func:`split_map`, :func:`write_split`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ebsdphase.core.classes import UNLABELLED, ClassSet


@dataclass(frozen=True)
class RealSplit:
    """A real map (path under the shared data folder) whose phase ids give the labels."""

    name: str
    path: str
    channels: str                   # what the network sees
    quality: str                    # the channel of the grain-threshold baseline
    classes: tuple[str, ...] = ("ferrite", "austenite")
    phases: dict = field(default_factory=lambda: {2: 0, 1: 1})  # phase id -> class index
    train_share: float = 0.6
    note: str = ""


REAL_SPLITS = (
    RealSplit("SDSS", "sdss_ferrite_austenite/sdss_ferrite_austenite.ang", "iq,ci,kam", "iq",
              note="duplex stainless steel, 100 x 117 px at 1.5 um, 52 % ferrite (BCC)"),
    RealSplit("TRIP", "trip_steel_ctf/test_ctfFile.ctf", "bc,bs,kam", "bs",
              note="TRIP steel, 84 x 103 px at 0.2 um, 13 % retained austenite, 17 % not indexed"),
)


def phase_labels(ebsd, phases: dict) -> np.ndarray:
    """(rows, cols) uint8 class per pixel from its phase id; other pixels (not indexed or
    of another phase) unlabelled (255)."""
    labels = np.full(ebsd.shape, UNLABELLED, np.uint8)
    for pid, k in phases.items():
        labels[ebsd.phase_id == pid] = k
    return labels


def split_map(ebsd, labels: np.ndarray, train_share: float):
    """(top map, top labels, bottom map, bottom labels): the first ``train_share`` of the rows
    and the rest."""
    cut = int(round(ebsd.rows * train_share))
    return ebsd[:cut, :], labels[:cut], ebsd[cut:, :], labels[cut:]


def write_split(split: RealSplit, data_dir: Path, folder: Path) -> tuple[Path, Path]:
    """Write ``train/<name>.ebsd.h5`` and ``test/<name>.ebsd.h5`` with their label images
    under ``folder``; returns (train map, test map). The written maps keep the phase column
    (a map file needs one); the recipes of :data:`REAL_SPLITS` never read it."""
    from ebsdphase.core.classes import labels_path, write_labels
    from ebsdphase.io import read_map, write_map

    ebsd = read_map(Path(data_dir) / split.path)
    labels = phase_labels(ebsd, split.phases)
    top, top_lab, bottom, bottom_lab = split_map(ebsd, labels, split.train_share)
    classes = ClassSet(split.classes)
    out = []
    for part, m, lab in (("train", top, top_lab), ("test", bottom, bottom_lab)):
        path = Path(folder) / part / f"{split.name}.ebsd.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_map(m, path)
        write_labels(labels_path(path, None), lab, classes)
        out.append(path)
    return out[0], out[1]
