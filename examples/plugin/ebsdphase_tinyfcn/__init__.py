"""A tiny fully-convolutional network registered as an ebsdphase architecture plugin.

A stack of 3x3 convolutions with growing dilation (1, 2, 4, ...) so the receptive field
widens without any pooling, then a 1x1 convolution and a softmax over the classes. With
no pooling it accepts maps of any size (``pooling_steps`` is 0).
"""

from __future__ import annotations

from ebsdphase.models.registry import Architecture, Param


def build(input_channels: int, n_classes: int, filters: int = 16, layers: int = 3):
    """An uncompiled keras model: (rows, cols, input_channels) -> (rows, cols, n_classes)."""
    import keras  # imported here so that `ebsdphase models list` stays fast

    inputs = keras.Input(shape=(None, None, input_channels), name="channels")
    x = inputs
    for i in range(layers):
        x = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=2**i, activation="relu",
                                name=f"conv{i}")(x)
    outputs = keras.layers.Conv2D(n_classes, 1, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="tinyfcn")


ARCHITECTURE = Architecture(
    name="tinyfcn",
    build=build,
    params={
        "filters": Param(16, "filters of every convolution"),
        "layers": Param(3, "dilated 3x3 convolutions (dilation 1, 2, 4, ...)"),
    },
    pooling_steps=lambda params: 0,
    description="tiny dilated fully-convolutional net (example plugin)",
)
