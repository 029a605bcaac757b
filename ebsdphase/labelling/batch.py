"""Label many map files: what ``ebsdphase label`` does, callable from a notebook too.

A bad map (unreadable, a channel missing, a label file of the wrong size) is reported and
skipped; the others are written. Problems that concern the whole run -- a bad option, a
scribble file that cannot be read or matched to a map -- raise at once, before any map is
written.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning
from ebsdphase.core.classes import LABEL_SUFFIX, ClassSet, labels_path, map_stem, write_labels
from ebsdphase.labelling.threshold import LABEL_CHANNEL

PREVIEW_SUFFIX = ".labels.preview.png"


@dataclass
class MapOutcome:
    """What happened to one map: the files written and the pipeline's info."""

    path: Path
    labels_file: Path
    preview_file: Path | None
    shape: tuple[int, int]
    fractions: dict[str, float]
    info: dict[str, Any]


@dataclass
class BatchResult:
    done: dict[str, MapOutcome] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def pair_scribbles(maps: Sequence[Path], scribbles: Sequence[Path]) -> dict[Path, Path]:
    """Map file -> its scribble file, by name: ``<stem>.scribbles.png``, ``<stem>_*.png``, ...

    With one map and one scribble file the two are paired whatever their names.
    """
    if len(maps) == 1 and len(scribbles) == 1:
        return {maps[0]: scribbles[0]}
    stems = {m: map_stem(m) for m in maps}
    out: dict[Path, Path] = {}
    for s in scribbles:
        name = Path(s).name
        match = [m for m, st in stems.items()
                 if name == st + ".png" or name.startswith((st + ".", st + "_", st + "-"))]
        if not match:
            raise EbsdphaseError(f"{s}: matches none of the maps by name (name scribbles "
                                 "<map stem>.scribbles.png)")
        best = max(match, key=lambda m: len(stems[m]))
        if best in out:
            raise EbsdphaseError(f"{s}: {best.name} already has scribbles {out[best]}")
        out[best] = Path(s)
    return out


def _from_file(source: Path, map_path: Path) -> Path:
    return labels_path(map_path, source) if source.is_dir() else source


def label_files(
    maps: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    prelabel: str = "threshold",
    scribbles: Sequence[str | os.PathLike] = (),
    from_labels: str | os.PathLike | None = None,
    classes: ClassSet | None = None,
    preview: bool = False,
    on_progress: Callable[[str, str], None] | None = None,
    **options: Any,
) -> BatchResult:
    """Label every map of ``maps`` into ``out_dir`` (``<stem>.labels.png`` + sidecar JSON).

    ``prelabel`` and ``options`` are those of :func:`ebsdphase.labelling.label_map`. For
    ``prelabel="forest"`` one forest is trained on the scribbled pixels of all maps that
    have a scribble file (see :func:`pair_scribbles`) and then labels every map, as the
    paper trained TWS on three maps and applied it to all fifteen. ``from_labels`` is a
    label PNG (one map) or a folder of ``<stem>.labels.png`` files.
    ``on_progress(stem, stage)`` is called as work proceeds.
    """
    from ebsdphase.io import read_map
    from ebsdphase.labelling.pipeline import label_map

    classes = classes or ClassSet()
    maps = [Path(m) for m in maps]
    out = Path(out_dir)
    note = on_progress or (lambda stem, stage: None)
    if not maps:
        raise EbsdphaseError("no maps to label")
    if prelabel == "forest" and not scribbles:
        raise EbsdphaseError("prelabel=forest needs scribbles=S.png (strokes in class colours)")
    if prelabel == "file" and from_labels is None:
        raise EbsdphaseError("prelabel=file needs from_labels=LABELS.png (or a folder of label files)")
    if prelabel == "file" and not Path(from_labels).is_dir() and len(maps) > 1:
        raise EbsdphaseError(f"from_labels={from_labels}: one label file for {len(maps)} maps; give a "
                             f"folder of <stem>{LABEL_SUFFIX} files")
    for given, needs, flag in ((scribbles, "forest", "scribbles"), (from_labels, "file", "from_labels")):
        if given and prelabel != needs:
            warnings.warn(f"{flag}= is ignored without prelabel={needs}", EbsdphaseWarning, stacklevel=2)
    out.mkdir(parents=True, exist_ok=True)
    result = BatchResult()

    pre: Any = prelabel
    loaded: dict[Path, Any] = {}
    if prelabel == "forest":
        from ebsdphase.labelling.forest import train_forest
        from ebsdphase.labelling.scribbles import read_scribbles

        pairs = pair_scribbles(maps, [Path(s) for s in scribbles])
        train_maps, train_scribbles = [], []
        for m, s in pairs.items():
            note(map_stem(m), "training")
            loaded[m] = read_map(m)
            train_maps.append(loaded[m])
            train_scribbles.append(read_scribbles(s, loaded[m].shape, classes))
        pre = train_forest(train_maps, train_scribbles, options.pop("channel", LABEL_CHANNEL),
                           n_estimators=options.pop("n_estimators", 50), seed=options.get("seed", 0))

    for m in maps:
        stem = map_stem(m)
        try:
            note(stem, "reading")
            ebsd = loaded.pop(m, None) or read_map(m)
            kw = dict(options)
            if prelabel == "file":
                kw["from_labels"] = _from_file(Path(from_labels), m)
            res = label_map(ebsd, pre, classes=classes, on_stage=lambda st: note(stem, st), **kw)
            note(stem, "writing")
            lab_file = write_labels(labels_path(m, out), res.labels, classes)
            prev_file = None
            if preview:
                from ebsdphase.labelling.preview import write_preview

                prev_file = write_preview(out / (stem + PREVIEW_SUFFIX), ebsd, res.labels, classes)
            n = res.labels.size
            fractions = {name: float(np.count_nonzero(res.labels == k)) / n
                         for k, name in enumerate(classes.names)}
            result.done[stem] = MapOutcome(m, lab_file, prev_file, ebsd.shape, fractions, res.info)
        except (EbsdphaseError, OSError) as exc:
            msg = str(exc)
            result.failed[stem] = msg if str(m) in msg else f"{m}: {msg}"
        note(stem, "done")
    return result
