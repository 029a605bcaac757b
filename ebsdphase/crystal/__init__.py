"""Orientation maths and per-pixel kernels (numba).

Submodules are imported lazily by the functions that need them so that importing
``ebsdphase`` (and ``ebsdphase info``) stays fast.
"""

from ebsdphase.core.euler import euler_to_quat, quat_to_euler

# Public name -> private module holding it. The modules import numba, so they are loaded
# on first attribute access (PEP 562), not by `import ebsdphase`. The modules are private
# (_kam, not kam) so that importing one never rebinds the package attribute `kam` (Python
# sets a package attribute per imported submodule) over the function of the same name.
_LAZY = {
    "disorientation": "ebsdphase.crystal._disorientation",
    "kam": "ebsdphase.crystal._kam",
    "kernel_offsets": "ebsdphase.crystal._kam",
    "grains": "ebsdphase.crystal._grains",
    "merge_small_grains": "ebsdphase.crystal._grains",
    "homogenize": "ebsdphase.crystal._homogenize",
    "grain_average": "ebsdphase.crystal._homogenize",
    "grain_table": "ebsdphase.crystal._homogenize",
    "rotate_homogenized": "ebsdphase.crystal._homogenize",
}

__all__ = ["euler_to_quat", "quat_to_euler", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
