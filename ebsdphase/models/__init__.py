"""Networks: the architecture registry, the paper's U-Net, model bundles, pretrained weights.

Importing this package chooses the Keras backend when the user has not: JAX, measured
fastest for whole-map prediction on CPU (see ``benchmarks/bench_unet.py``). Set
``KERAS_BACKEND=torch`` (or ``tensorflow``) before the first import to use another one;
bundles load under any backend.
"""

from __future__ import annotations

import os

#: the backend used when KERAS_BACKEND is unset (measured, see benchmarks/bench_unet.py)
DEFAULT_BACKEND = "jax"

os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)

from ebsdphase.models.registry import (  # noqa: E402
    Architecture,
    Param,
    architectures,
    broken_plugins,
    get_architecture,
    register_architecture,
)

__all__ = [
    "Architecture",
    "Param",
    "architectures",
    "broken_plugins",
    "get_architecture",
    "register_architecture",
    "Bundle",
    "load_bundle",
    "save_bundle",
]


def __getattr__(name: str):
    # bundle.py is light too, but keep the package import minimal
    if name in ("Bundle", "load_bundle", "save_bundle"):
        from ebsdphase.models import bundle

        return getattr(bundle, name)
    raise AttributeError(name)
