"""Keras application models as dream networks (e.g. ``keras.applications.InceptionV3``, the
TensorFlow DeepDream tutorial's choice), with each model's own preprocessing.

Blob names are the Keras layer names (``mixed3``, ``mixed5``...). ImageNet weights are
downloaded by Keras on first use (``~/.keras/models``).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from tf_impl.errors import DeepDreamError
from tf_impl.network import DreamNet


@dataclass(frozen=True)
class KerasApp:
    """A Keras application: constructor name, its input preprocessing (channel order, mean,
    scale: net input = (pixels - mean) * scale) and a good default layer to dream on."""

    constructor: str
    channel_order: str
    mean: tuple[float, float, float]
    scale: float
    default_layer: str


# "tf"-style models take RGB scaled to [-1, 1]; "caffe"-style ones BGR minus the ImageNet mean.
KERAS_APPS = {
    "InceptionV3": KerasApp("InceptionV3", "RGB", (127.5, 127.5, 127.5), 1 / 127.5, "mixed3"),
    "InceptionResNetV2": KerasApp(
        "InceptionResNetV2", "RGB", (127.5, 127.5, 127.5), 1 / 127.5, "mixed_6a"
    ),
    "Xception": KerasApp("Xception", "RGB", (127.5, 127.5, 127.5), 1 / 127.5, "block4_sepconv2"),
    "VGG16": KerasApp("VGG16", "BGR", (103.939, 116.779, 123.68), 1.0, "block4_conv3"),
    "VGG19": KerasApp("VGG19", "BGR", (103.939, 116.779, 123.68), 1.0, "block4_conv4"),
    "ResNet50": KerasApp("ResNet50", "BGR", (103.939, 116.779, 123.68), 1.0, "conv4_block3_out"),
}


def load_keras_app(name: str, weights: str | None = "imagenet") -> DreamNet:
    """A DreamNet for ``keras.applications.<name>`` without its classifier head (any input
    size). ``weights=None`` gives random weights (for tests, or offline)."""
    app = KERAS_APPS.get(name)
    if app is None:
        raise DeepDreamError(
            f"unknown Keras model '{name}'; known: {', '.join(sorted(KERAS_APPS))}"
        )
    constructor = getattr(keras.applications, app.constructor)
    try:
        model = constructor(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as exc:  # Keras raises plain Exceptions for failed weight downloads
        raise DeepDreamError(
            f"cannot build keras.applications.{name} with {weights} weights ({exc}); "
            "the weights are downloaded by Keras on first use and need network access"
        ) from None
    return DreamNet(
        model,
        mean=app.mean,
        channel_order=app.channel_order,
        scale=app.scale,
        metadata={"source": f"keras.applications.{name}", "default_layer": app.default_layer},
    )
