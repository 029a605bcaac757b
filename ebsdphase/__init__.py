"""ebsdphase: phase segmentation of EBSD maps with a U-Net.

Importing the package stays cheap (no keras, no numba compilation): the heavy
parts are imported by the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ebsdphase")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from ebsdphase.ebsdmap import EBSDMap, Phase
from ebsdphase.errors import EbsdphaseError, EbsdphaseWarning, MapReadError
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
_LAZY = {"predict": ("ebsdphase.inference", "predict"), "evaluate": ("ebsdphase.metrics", "evaluate")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'ebsdphase' has no attribute {name!r}")
