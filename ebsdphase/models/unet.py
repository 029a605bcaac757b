"""The paper's U-Net (Martinez Ostormujof et al. 2021, section 3.4 and Fig. 4), in Keras 3.

Each *convolutional step* is two 3x3 'same' convolutions with ReLU and a 20 % dropout
between them. ``depth`` counts the steps: 7 = three steps down (each followed by a 2x2
max-pool), a bottleneck step, three steps up (each after a 2x2 up-sampling whose output
is concatenated with the matching down step: the skip connection). The top level has 32
filters, doubling at each level down. A 1x1 convolution maps the last 32 features to the
classes and a softmax gives the probabilities.

The paper says only that up-sampling is "done by a 2x2 pixels kernel"; the default
``upsampling="transpose"`` reads that as a learned 2x2 stride-2 transposed convolution
(the usual Keras U-Net), ``"nearest"`` is plain 2x2 repetition with no weights.

Only ``keras.layers`` are used, so the network runs under every Keras backend, and keras
is imported inside :func:`build_unet` so that importing this module stays cheap.
"""

from __future__ import annotations


from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.models.registry import Architecture, Param


def pooling_steps(params: dict) -> int:
    """Number of 2x max-poolings of a U-Net of ``depth`` steps (3 for the paper's 7)."""
    return (int(params["depth"]) - 1) // 2


def _validate(params: dict) -> None:
    depth = params["depth"]
    if depth < 1 or depth % 2 == 0:
        raise EbsdphaseError(f"U-Net depth must be an odd number of steps (3, 5, 7, ...), got {depth}")
    if params["filters"] < 1:
        raise EbsdphaseError(f"U-Net filters must be positive, got {params['filters']}")
    if not 0.0 <= params["dropout"] < 1.0:
        raise EbsdphaseError(f"U-Net dropout must be in [0, 1), got {params['dropout']}")


def build_unet(input_channels: int, n_classes: int, depth: int = 7, filters: int = 32,
               dropout: float = 0.2, upsampling: str = "transpose"):
    """An uncompiled keras U-Net taking ``(rows, cols, input_channels)`` maps of any size
    that is a multiple of ``2 ** ((depth - 1) // 2)`` and giving ``(rows, cols, n_classes)``
    softmax probabilities."""
    import keras
    from keras import layers

    _validate({"depth": depth, "filters": filters, "dropout": dropout})
    steps = (depth - 1) // 2

    def step(x, width: int, name: str):
        # he_normal: the initialisation matched to ReLU (keeps activations' variance)
        x = layers.Conv2D(width, 3, padding="same", activation="relu",
                          kernel_initializer="he_normal", name=f"{name}_conv1")(x)
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
        return layers.Conv2D(width, 3, padding="same", activation="relu",
                             kernel_initializer="he_normal", name=f"{name}_conv2")(x)

    inputs = keras.Input(shape=(None, None, int(input_channels)), name="channels")
    x = inputs
    skips = []
    for level in range(steps):
        x = step(x, filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = step(x, filters * 2**steps, "bottleneck")
    for level in reversed(range(steps)):
        width = filters * 2**level
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(width, 2, strides=2, padding="same", name=f"up{level}_upsample")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}_upsample")(x)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skips[level]])
        x = step(x, width, f"up{level}")
    outputs = layers.Conv2D(int(n_classes), 1, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=f"unet{depth}")


ARCHITECTURE = Architecture(
    name="unet",
    build=build_unet,
    params={
        "depth": Param(7, "convolutional steps: 3, 5 or 7 (7 = 3 down, bottleneck, 3 up)", minimum=1, maximum=15),
        "filters": Param(32, "filters of the top level; doubled at each level down", minimum=1, maximum=512),
        "dropout": Param(0.2, "dropout rate between the two convolutions of a step", minimum=0.0, maximum=0.95),
        "upsampling": Param("transpose", "2x2 up-sampling: learned transposed conv or nearest",
                            choices=("transpose", "nearest")),
    },
    pooling_steps=pooling_steps,
    description="U-Net of Martinez Ostormujof et al. 2021 (3x3 convs, 20 % dropout, skip connections)",
    validate=_validate,
)
