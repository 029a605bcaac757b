"""The label-image contract shared by label, synth, prepare, evaluate and compare.

A label image is a uint8 PNG of the map's grid holding the class index of each pixel;
255 means unlabelled. It is named ``<map stem>.labels.png`` and may have a sidecar
``<map stem>.labels.json`` with the class names and colours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ebsdphase.core.atomic import atomic_path, write_text_atomic
from ebsdphase.core.errors import EbsdphaseError

UNLABELLED = 255
LABEL_SUFFIX = ".labels.png"
#: the class value and colour pictures give the pixels of a phase other than body-centred
#: iron (austenite of a duplex or TRIP steel): the model's class says nothing about them
OTHER_PHASE = UNLABELLED  # pictures only: no class or label array ever holds it
OTHER_PHASE_COLOUR = (200, 200, 200)
OTHER_PHASE_LABEL = "other phase (not bcc iron)"

#: Default colours, as in the paper's figures (ferrite red, martensite blue); further
#: classes (bainite, austenite, ...) take the next entries, in order.
PALETTE: list[tuple[int, int, int]] = [
    (255, 0, 0),      # 0 ferrite
    (0, 0, 255),      # 1 martensite
    (0, 170, 0),      # 2 e.g. bainite
    (255, 200, 0),    # 3 e.g. austenite
    (170, 0, 255),    # 4
    (0, 200, 200),    # 5
    (255, 120, 180),  # 6
    (128, 128, 128),  # 7
]
DEFAULT_CLASSES = ("ferrite", "martensite")


@dataclass(frozen=True)
class ClassSet:
    names: tuple[str, ...] = DEFAULT_CLASSES
    colours: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.colours:
            if len(self.names) > len(PALETTE):
                raise EbsdphaseError(f"at most {len(PALETTE)} classes have default colours")
            object.__setattr__(self, "colours", tuple(PALETTE[: len(self.names)]))

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def parse(cls, text: str) -> "ClassSet":
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        if len(names) < 2:
            raise EbsdphaseError(f"need at least two class names, got {text!r}")
        return cls(names)

    def to_dict(self) -> dict:
        return {"classes": list(self.names), "colours": [list(c) for c in self.colours],
                "unlabelled": UNLABELLED}

    @classmethod
    def from_dict(cls, d: dict) -> "ClassSet":
        return cls(tuple(d["classes"]), tuple(tuple(int(v) for v in c) for c in d.get("colours", ())))

    def colourize(self, labels: np.ndarray, unlabelled=(0, 0, 0)) -> np.ndarray:
        """(rows, cols) class indices -> (rows, cols, 3) uint8 RGB."""
        lut = np.zeros((256, 3), np.uint8)
        lut[:] = unlabelled
        for i, c in enumerate(self.colours):
            lut[i] = c
        return lut[labels]


def labels_path(map_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """Where the labels of ``map_path`` live: ``<folder or map folder>/<stem>.labels.png``."""
    p = Path(map_path)
    return Path(folder or p.parent) / (map_stem(p) + LABEL_SUFFIX)


def map_stem(path: str | os.PathLike) -> str:
    """The file name without its map extension ('a.ebsd.h5' -> 'a', 'b.ctf' -> 'b')."""
    name = Path(path).name
    for suffix in (".ebsd.h5", LABEL_SUFFIX):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def sidecar_path(label_file: str | os.PathLike) -> Path:
    """The JSON sidecar of a label image: ``a.labels.png`` -> ``a.labels.json``."""
    p = Path(label_file)
    return p.with_name(p.name[: -len(".png")] + ".json") if p.name.endswith(".png") else p.with_suffix(".json")


def write_labels(path: str | os.PathLike, labels: np.ndarray, classes: ClassSet | None = None) -> Path:
    """Write a label PNG (and its JSON sidecar when ``classes`` is given), atomically."""
    from PIL import Image

    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise EbsdphaseError(f"{path}: labels must be a 2-D array, got shape {arr.shape}")
    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(arr.astype(np.uint8), mode="L").save(tmp, format="PNG")
    if classes is not None:
        write_text_atomic(sidecar_path(p), json.dumps(classes.to_dict(), indent=2))
    return p


def read_labels(path: str | os.PathLike, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a label PNG as a (rows, cols) uint8 array; check its grid when ``shape`` is given."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise EbsdphaseError(f"{p}: no such label file")
    try:
        with Image.open(p) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise EbsdphaseError(f"{p}: label image must be single-channel (mode L), got {im.mode}")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError) as exc:
        raise EbsdphaseError(f"{p}: not a readable PNG ({exc})") from None
    if arr.max(initial=0) > 255:
        raise EbsdphaseError(f"{p}: label values above 255")
    arr = arr.astype(np.uint8)
    if shape is not None:
        check_label_shape(p, arr, shape)
    return arr


def check_label_shape(path: str | os.PathLike, labels: np.ndarray, shape: tuple[int, int]) -> None:
    """One line when the label image ``path`` (read as ``labels``) is not on the map's grid."""
    if labels.shape != tuple(shape):
        raise EbsdphaseError(f"{Path(path)}: label image is {labels.shape[0]} x {labels.shape[1]} but the map is "
                             f"{shape[0]} x {shape[1]}")


def read_classes(label_file: str | os.PathLike) -> ClassSet:
    """The class set in the sidecar of ``label_file``; the defaults when there is none."""
    p = Path(label_file)
    sidecar = sidecar_path(p)
    if not sidecar.exists():
        return ClassSet()
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EbsdphaseError(f"{sidecar}: not a readable label sidecar ({exc})") from None
    names = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        raise EbsdphaseError(f"{sidecar}: 'classes' must list at least two class names, got "
                             f"{names if isinstance(data, dict) else data!r}")
    colours = data.get("colours", ())
    try:
        return ClassSet.from_dict({"classes": names, "colours": colours if len(colours) == len(names) else ()})
    except (TypeError, ValueError) as exc:
        raise EbsdphaseError(f"{sidecar}: bad class colours ({exc})") from None
