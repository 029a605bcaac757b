"""The dataset file (HDF5) written by ``prepare`` and read by ``train``.

Layout::

  /train/inputs      (N, H, W, C) float32, one crop per chunk, shuffle + gzip
  /train/labels      (N, H, W) uint8 (255 = unlabelled -> zero loss weight)
  /train/provenance  (N,) compound: map (str), augmentation (str), row (int32), col (int32)
  /val/...           the same three datasets
  attrs: format="ebsdphase-dataset", version=1, recipe (JSON), classes (JSON), command,
         crop, split_by, seed, plus informative extras (val, augment, border, maps)

``row``/``col`` are the top-left corner of the crop in the augmented map's grid.
The file is written to a temporary sibling and renamed at the end, so an interrupted
``prepare`` never leaves a half-written dataset under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.features import ChannelRecipe
from ebsdphase.core.classes import ClassSet

MAGIC = "ebsdphase-dataset"
VERSION = 1
SPLITS = ("train", "val")
#: gzip level: z-scored floats are noise-like; level 4 gave files ~1 % smaller than level 1
#: for ~50 % more write time (shuffle filter on in both), so the fast level wins
GZIP_LEVEL = 1
PROVENANCE_DTYPE = np.dtype([("map", h5py.string_dtype()), ("augmentation", h5py.string_dtype()),
                             ("row", np.int32), ("col", np.int32)])


class DatasetWriter:
    """Write a dataset whose split sizes are known in advance, one crop at a time.

    Use as a context manager; the file appears under its final name only when the block
    ends without an exception.
    """

    def __init__(self, path: str | os.PathLike, *, recipe: ChannelRecipe, classes: ClassSet,
                 crop: int, sizes: dict[str, int], split_by: str, seed: int,
                 command: str = "", extra_attrs: dict[str, Any] | None = None):
        self.path = Path(path)
        self.recipe = recipe
        self.classes = classes
        self.crop = int(crop)
        self.sizes = {s: int(sizes.get(s, 0)) for s in SPLITS}
        self.attrs = {
            "format": MAGIC, "version": VERSION,
            "recipe": json.dumps(recipe.to_dict()), "classes": json.dumps(classes.to_dict()),
            "command": command, "crop": self.crop, "split_by": split_by, "seed": int(seed),
        }
        for k, v in (extra_attrs or {}).items():
            self.attrs[k] = v if isinstance(v, (str, int, float, bool)) else json.dumps(v)
        self._stack: contextlib.ExitStack | None = None
        self._file: h5py.File | None = None

    def __enter__(self) -> "DatasetWriter":
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            self._file = stack.enter_context(h5py.File(tmp, "w"))
            self._create()
            # from here on the file (and its rename) is closed by __exit__
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: Any) -> bool:
        assert self._stack is not None
        self._file = None
        return bool(self._stack.__exit__(*exc))

    def _create(self) -> None:
        f = self._file
        assert f is not None
        f.attrs.update(self.attrs)
        h = w = self.crop
        c = self.recipe.n_channels
        for name in SPLITS:
            n = self.sizes[name]
            g = f.create_group(name)
            g.create_dataset("inputs", shape=(n, h, w, c), maxshape=(None, h, w, c), dtype=np.float32,
                             chunks=(1, h, w, c), compression="gzip", compression_opts=GZIP_LEVEL,
                             shuffle=True)
            g.create_dataset("labels", shape=(n, h, w), maxshape=(None, h, w), dtype=np.uint8,
                             chunks=(1, h, w), compression="gzip", compression_opts=GZIP_LEVEL)
            g.create_dataset("provenance", shape=(n,), maxshape=(None,), dtype=PROVENANCE_DTYPE,
                             chunks=(max(1, min(n, 4096)),))
            g["inputs"].attrs["channels"] = json.dumps(self.recipe.channel_labels())

    def set_attr(self, key: str, value: Any) -> None:
        """Set a file attribute known only after the crops are written (JSON for non-scalars)."""
        assert self._file is not None, "use DatasetWriter as a context manager"
        self._file.attrs[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)

    def write(self, split: str, index: int, inputs: np.ndarray, labels: np.ndarray,
              map_name: str, augmentation: str, row: int, col: int) -> None:
        """Store one crop at position ``index`` of ``split``."""
        assert self._file is not None, "use DatasetWriter as a context manager"
        g = self._file[split]
        g["inputs"][index] = inputs
        g["labels"][index] = labels
        prov = np.array([(map_name, augmentation, row, col)], dtype=PROVENANCE_DTYPE)
        g["provenance"][index] = prov[0]


class DatasetFile:
    """An open dataset file: ``.recipe``, ``.classes``, ``.crop``, ``.split(name)``.

    Usable as a context manager; ``close()`` releases the HDF5 handle.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except (OSError, FileNotFoundError) as exc:
            reason = "no such file" if not self.path.exists() else f"not an HDF5 file ({exc})"
            raise EbsdphaseError(f"{self.path}: {reason}") from None
        try:
            attrs = self._file.attrs
            if attrs.get("format") != MAGIC:
                raise EbsdphaseError(f"{self.path}: not an ebsdphase dataset (made by 'ebsdphase prepare')")
            if int(attrs.get("version", 0)) > VERSION:
                raise EbsdphaseError(f"{self.path}: dataset version {attrs['version']} is newer than "
                                     f"this ebsdphase understands ({VERSION})")
            self.recipe = ChannelRecipe.from_dict(json.loads(attrs["recipe"]))
            self.classes = ClassSet.from_dict(json.loads(attrs["classes"]))
            self.crop = int(attrs["crop"])
            self.split_by = str(attrs.get("split_by", ""))
            self.seed = int(attrs.get("seed", 0))
            self.command = str(attrs.get("command", ""))
            # what the model will have seen (domain.ranges); absent in datasets before 0.2
            self.training_ranges = json.loads(attrs["training_ranges"]) if "training_ranges" in attrs else {}
        except KeyError as exc:
            self._file.close()
            raise EbsdphaseError(f"{self.path}: dataset lacks attribute {exc}") from None
        except BaseException:
            self._file.close()
            raise

    @property
    def file(self) -> h5py.File:
        return self._file

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._file.attrs)

    def split(self, name: str) -> tuple[h5py.Dataset, h5py.Dataset]:
        """(inputs, labels) HDF5 datasets of ``name`` ('train' or 'val'); read lazily."""
        if name not in self._file:
            raise EbsdphaseError(f"{self.path}: no split {name!r} (have: {', '.join(self._file)})")
        g = self._file[name]
        return g["inputs"], g["labels"]

    def provenance(self, name: str) -> np.ndarray:
        """Structured array (map, augmentation, row, col) of the crops of ``name``, as str."""
        raw = self._file[name]["provenance"][()]
        out = np.empty(len(raw), dtype=[("map", object), ("augmentation", object),
                                         ("row", np.int32), ("col", np.int32)])
        for field in ("map", "augmentation"):
            out[field] = [v.decode() if isinstance(v, bytes) else v for v in raw[field]]
        out["row"], out["col"] = raw["row"], raw["col"]
        return out

    def __len__(self) -> int:
        return sum(self._file[s]["labels"].shape[0] for s in SPLITS if s in self._file)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_dataset(path: str | os.PathLike) -> DatasetFile:
    """Open a dataset made by ``prepare`` (read only)."""
    return DatasetFile(path)
