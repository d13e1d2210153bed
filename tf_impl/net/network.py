"""A converted Caffe network as a Keras model whose blobs are reachable by Caffe name.

Names follow pycaffe's ``net.forward(end=NAME)``: NAME is a Caffe *layer* name and the value
is that layer's top blob just after the layer ran. So for a convolution followed by an
in-place ReLU, the convolution's name (``inception_3b/5x5_reduce``) is the pre-ReLU value and
the ReLU's name (``inception_3b/relu_5x5_reduce``) the post-ReLU value; a Concat such as
``inception_4c/output`` is computed from post-ReLU branches. The input blob (``data``) is
reachable too. Asking for some blobs runs only the layers they need.

Saved form: a single ``.keras`` file (Keras' own zip: config + weights) with one extra entry,
``deepdream.json``, holding the preprocessing facts (mean, channel order) and provenance.
``.keras`` over SavedModel because it keeps the layer graph, so sub-models for any blob can
be cut after loading; a SavedModel would freeze a fixed set of signatures.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from conversion.errors import DeepDreamError
from conversion.outputs import atomic_output
from conversion.registry import CAFFE_MEAN_BGR
from tf_impl.net import layers as caffe_layers  # also registers the layers for load_model
from tf_impl.net.naming import caffe_name

METADATA_ENTRY = "deepdream.json"


def input_blobs(layer: keras.layers.Layer) -> list[str]:
    """Caffe names of the blobs that feed ``layer`` in its functional model (none for the
    input layer). The one place that reads Keras' graph internals."""
    node = layer._inbound_nodes[0]
    return [caffe_name(t._keras_history.operation.name) for t in node.input_tensors]


def run_model(model: keras.Model, batch: tf.Tensor) -> list[tf.Tensor]:
    """``model`` (a net's Keras model or a sub-model) on a float32 (N, H, W, 3) batch: cast
    to the model's input dtype on the way in (bfloat16 for a bfloat16 net), every output cast
    to float32 on the way out, so what reads blobs (an objective's reduction, the gradient's
    normalisation) stays float32 whatever the net computes in. A list, one per output."""
    outputs = model(tf.cast(batch, model.inputs[0].dtype), training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [tf.cast(o, tf.float32) for o in outputs]


@dataclass(eq=False)  # compared and hashed by identity: compiled steps are cached per net
class DreamNet:
    """A Keras model plus what is needed to feed it and to name its blobs.

    ``keras_model`` takes (N, H, W, 3) :attr:`compute_dtype`: pixels (0-255) in the channel order
    ``channel_order``, minus ``mean`` (in that order), times ``scale``. Caffe's GoogLeNet:
    BGR, mean (104, 116, 122), scale 1. ``metadata`` records where the model came from.
    """

    keras_model: keras.Model
    mean: tuple[float, float, float] = CAFFE_MEAN_BGR
    channel_order: str = "BGR"
    scale: float = 1.0
    metadata: dict = field(default_factory=dict)

    @property
    def compute_dtype(self) -> tf.DType:
        """The dtype every layer computes in: the input layer's (float32; bfloat16 for
        :func:`tf_impl.dream.precision.bfloat16_net`'s nets)."""
        return tf.as_dtype(self.keras_model.inputs[0].dtype)

    def cloned(
        self,
        clone_layer: Callable[[keras.layers.Layer], keras.layers.Layer],
        inputs: keras.KerasTensor | None = None,
        **metadata,
    ) -> DreamNet:
        """A copy whose Keras model is rebuilt layer by layer by ``clone_layer`` (e.g. in
        another dtype; on new ``inputs`` if given) and given this net's weights: the same
        preprocessing, the metadata updated with ``metadata``."""
        model = keras.models.clone_model(self.keras_model, inputs, clone_function=clone_layer)
        model.set_weights(self.keras_model.get_weights())  # cast to the clone's dtypes, once
        return dataclasses.replace(self, keras_model=model, metadata={**self.metadata, **metadata})

    def input_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (lower, upper) network-input values of pixels 0 and 255, shape (3,)."""
        mean = np.asarray(self.mean, dtype=np.float32)
        return (0.0 - mean) * self.scale, (255.0 - mean) * self.scale

    def blob_names(self) -> list[str]:
        """Every reachable blob name, input first, in the network's order."""
        return [caffe_name(layer.name) for layer in self.keras_model.layers]

    def layer(self, name: str) -> keras.layers.Layer:
        """The Keras layer whose output is blob ``name``; DeepDreamError (with close names)
        for unknown names."""
        names = self.blob_names()
        if name not in names:
            raise DeepDreamError(f"unknown blob '{name}'{suggest(name, names)}")
        return self.keras_model.layers[names.index(name)]

    def channels(self, name: str) -> int:
        """Number of channels of blob ``name``."""
        return int(self.layer(name).output.shape[-1])

    def submodel(self, names: Sequence[str]) -> keras.Model:
        """A Keras model from the input to the listed blobs (NHWC each), running only what
        they need. Raises DeepDreamError for unknown names, suggesting close ones."""
        outputs = [self.layer(n).output for n in names]
        return keras.Model(self.keras_model.input, outputs)

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB 0-255 image -> (H, W, 3) float32 network input (e.g. BGR - mean), a
        new array (the only whole-image array it allocates)."""
        rgb = np.asarray(rgb)
        image = np.empty(rgb.shape, np.float32)
        image[...] = rgb[..., ::-1] if self.channel_order == "BGR" else rgb
        image -= np.asarray(self.mean, dtype=np.float32)
        if self.scale != 1.0:
            image *= np.float32(self.scale)
        return image

    def preprocess_tensor(self, rgb: tf.Tensor) -> tf.Tensor:
        """:meth:`preprocess` in TensorFlow, differentiable: (..., 3) float32 RGB 0-255 ->
        network input, the same numbers."""
        ordered = tf.reverse(rgb, axis=[-1]) if self.channel_order == "BGR" else rgb
        return (ordered - tf.constant(self.mean, tf.float32)) * self.scale

    def deprocess(self, net_image: np.ndarray, in_place: bool = False) -> np.ndarray:
        """Inverse of :meth:`preprocess`: network input (H, W, 3) -> float RGB 0-255, a new
        array, or with ``in_place`` computed in ``net_image`` (float32) itself."""
        image = net_image if in_place else np.array(net_image, dtype=np.float32)
        if self.scale != 1.0:
            image /= np.float32(self.scale)
        image += np.asarray(self.mean, np.float32)
        return image[..., ::-1] if self.channel_order == "BGR" else image

    def blobs(self, net_image: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Blobs for one preprocessed image (H, W, 3): {name: (h, w, c) float32, NHWC less N}."""
        batch = tf.constant(np.asarray(net_image, dtype=np.float32)[None])
        outputs = run_model(self.submodel(names), batch)
        return {n: o.numpy()[0] for n, o in zip(names, outputs, strict=True)}

    def save(self, path: str | Path) -> None:
        """Write a ``.keras`` file (atomically) that :func:`load_dreamnet` reads back."""
        path = Path(path)
        if path.suffix != ".keras":
            raise DeepDreamError(f"{path}: the converted model file must end in .keras")
        meta = {
            "mean": list(self.mean),
            "channel_order": self.channel_order,
            "scale": self.scale,
            **self.metadata,
        }
        with atomic_output(path) as tmp:
            self.keras_model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(METADATA_ENTRY, json.dumps(meta, indent=1))


def load_dreamnet(path: str | Path) -> DreamNet:
    """Load a ``.keras`` file written by :meth:`DreamNet.save`."""
    path = Path(path)
    if not path.is_file():
        raise DeepDreamError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(METADATA_ENTRY))
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):
        raise DeepDreamError(
            f"{path}: not a model written by 'deepdream convert' (no {METADATA_ENTRY})"
        ) from None
    # Not keras.models.load_model: for an archive with an extra entry (ours) it unpacks the
    # whole file into a temporary directory on every load. The weights are read in place.
    config["compile_config"] = None
    model = keras.saving.deserialize_keras_object(config)
    model.load_weights(path)
    mean = tuple(float(m) for m in meta.pop("mean"))
    order = meta.pop("channel_order")
    scale = float(meta.pop("scale", 1.0))
    return DreamNet(model, mean=mean, channel_order=order, scale=scale, metadata=meta)


def suggest(name: str, names: Sequence[str]) -> str:
    """'; did you mean ...?' text listing close names, or a hint to list them all."""
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
    if close:
        return "; did you mean " + ", ".join(f"'{c}'" for c in close) + "?"
    return "; run 'deepdream layers --model MODEL' to list the blob names"


def main_blobs(net: DreamNet) -> list[str]:
    """The blobs an atlas of the whole network shows, in the network's order: every module's
    output (a concatenation, as GoogLeNet's and Inception's modules end, or an elementwise sum,
    as a ResNet block ends) and the convolutions of the stem, before the first blob that feeds
    several branches (for GoogLeNet: conv1/7x7_s2, conv2/3x3_reduce, conv2/3x3 and the nine
    inception outputs)."""
    layers = net.keras_model.layers
    consumers = Counter(blob for layer in layers for blob in input_blobs(layer))
    found, in_stem = [], True
    for layer in layers:
        name = caffe_name(layer.name)
        module_output = isinstance(layer, keras.layers.Concatenate | caffe_layers.CaffeEltwise)
        if module_output or (in_stem and isinstance(layer, caffe_layers.CaffeConvolution)):
            found.append(name)
        in_stem = in_stem and consumers[name] <= 1
    return found
