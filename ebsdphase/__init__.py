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
    "__version__",
]
