"""Orientation maths and per-pixel kernels (numba).

Submodules are imported lazily by the functions that need them so that importing
``ebsdphase`` (and ``ebsdphase info``) stays fast.
"""

from ebsdphase.crystal.euler import euler_to_quat, quat_to_euler

__all__ = ["euler_to_quat", "quat_to_euler"]
