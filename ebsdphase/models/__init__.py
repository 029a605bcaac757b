"""Networks: the architecture registry, the paper's U-Net, model bundles, pretrained weights.

Importing this package chooses the Keras backend when the user has not set
``KERAS_BACKEND``: JAX. Measured with ``benchmarks/bench_unet.py`` (7-step U-Net, 2 input
channels, 2 shared CPU cores, keras 3.15, jax 0.10.2, torch 2.13.0):

==========================  ===========  ===========
                            JAX          PyTorch
==========================  ===========  ===========
predict one 864 x 1136 map  2.5 s        5.7 s
  first call (new shape)    4.2 s        6.8 s
train step, 8 x 224 x 224   6.4 s        4.4 s
train step, 8 x 104 x 104   1.15 s       0.60 s
epoch, 864 crops 224 / 104  694 / 124 s  471 / 65 s   (paper: ~700 / ~120 s, 4 cores)
==========================  ===========  ===========

Prediction is what users repeat on every map, and JAX does it 2.3x faster even when it
has to compile for a new map size; it is also the smaller install. Training is a one-off
where PyTorch is ~1.5x faster: ``KERAS_BACKEND=torch ebsdphase train ...`` (extra
``ebsdphase[torch]``). Bundles load under any backend.
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
