"""ebsdphase: phase segmentation of EBSD maps with a U-Net.

The rooms, and the one direction imports flow (cli -> stages -> shared -> core):

=================  ==================================================================
``cli/``           the Typer commands, one module each; progress bars, run reports,
                   one-line errors and exit codes live in ``cli/_common.py`` (only the
                   CLI translates library errors into flags)
-- stages --
``synth/``         synthetic dual-phase maps with exact labels (``synth``)
``labelling/``     ground truth: pre-labelling, grain majority, non-indexed rule (``label``)
``dataset/``       augmentation, crops, splits, the dataset file (``prepare``)
``training/``      the training loop, checkpoints, resume (``train``)
``prediction/``    the one prediction path, its result and folder runs (``predict``)
``evaluation/``    metrics, evaluation reports, comparisons, baselines, real-map checks
                   (``evaluate``, ``compare``; it runs predictions, so it imports
                   ``prediction``)
-- shared --
``models/``        architecture registry (entry points), the U-Net, bundles (card +
                   weights), training ranges, pretrained models and their index
``features.py``    the only channel code: names, derived channels (KAM, quality, step,
                   quaternions), normalisation (recipe versions 1 and 2)
``plots.py``       every figure
``htmlreport.py``  the self-contained report.html of a run
``io/``            one module per file format behind the registry; map discovery
``crystal/``       quaternions, symmetry, disorientation, KAM, grains (numba)
``core/``          EBSDMap, ClassSet and label images, errors, atomic writes, inputs,
                   short names for tables and axes
=================  ==================================================================

Importing the package stays cheap (no keras, no numba compilation): the heavy
parts are imported by the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ebsdphase")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from ebsdphase.core.ebsdmap import EBSDMap, Phase
from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning, MapReadError
from ebsdphase.io import read_map, write_map

__all__ = [
    "EBSDMap",
    "Phase",
    "EbsdphaseError",
    "EbsdphaseWarning",
    "MapReadError",
    "read_map",
    "write_map",
    "predict",
    "evaluate",
    "__version__",
]

# The API functions whose modules import heavy libraries (keras via inference) are
# resolved on first access only, so `import ebsdphase` stays fast.
_LAZY = {"predict": ("ebsdphase.prediction.engine", "predict"), "evaluate": ("ebsdphase.evaluation.metrics", "evaluate")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'ebsdphase' has no attribute {name!r}")
