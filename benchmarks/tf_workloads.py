"""The TensorFlow work that is timed: the bare forward + backward pass (eager, tf.function,
XLA), one full dream step, a large matrix multiply, and a
mixed-precision copy of a network.

Every timed callable takes a network-input image (H, W, 3) float32 tensor and returns a tensor;
:func:`timed` forces the result to the host, so asynchronous (GPU) work is inside the timing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tf_impl.dream.deepdream import DEFAULT_END, NO_GUIDE, dreamer_for
from tf_impl.dream.objectives import L2
from tf_impl.dream.precision import bfloat16_net
from tf_impl.dream.settings import NOTEBOOK
from tf_impl.net.layers import CaffeLRN
from tf_impl.net.network import DreamNet, run_model

IMAGE_SPEC = tf.TensorSpec([None, None, 3], tf.float32, name="image")
BARE_MODES = ("eager", "function", "xla")
# The jitter offset (ox, oy) of the timed dream step: any non-zero shift (it only rolls).
STEP_OFFSET = (7, -5)


def bare_gradient(model: keras.Model, mode: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """d(0.5 * sum(a^2)) / d image for the single-output ``model`` (a = its output): only the
    input is watched, so no weight gradients are computed. ``mode``: 'eager' (op by op),
    'function' (one traced graph, dynamic height/width) or 'xla' (the same, jit-compiled;
    XLA compiles once per distinct shape)."""

    def gradient(image):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            (acts,) = run_model(model, image[None])
            score = 0.5 * tf.reduce_sum(tf.square(acts))
        return tape.gradient(score, image)

    if mode == "eager":
        return gradient
    if mode not in BARE_MODES:
        raise ValueError(f"mode must be one of {BARE_MODES}, got {mode!r}")
    return tf.function(gradient, input_signature=[IMAGE_SPEC], jit_compile=mode == "xla")


def dream_step(net: DreamNet, end: str = DEFAULT_END) -> Callable[[tf.Tensor], tf.Tensor]:
    """One complete notebook step (roll, forward, gradient, normalise, unroll, clip) through the
    project's cached compiled :class:`~tf_impl.dream.deepdream.Dreamer`, the same one
    ``deepdream`` uses."""
    dreamer = dreamer_for(net, L2(end))
    offset = tf.constant(STEP_OFFSET, tf.int32)
    step_size, clip = tf.constant(NOTEBOOK.step_size), tf.constant(NOTEBOOK.clip)
    return lambda image: dreamer.step(image, offset, step_size, clip, NO_GUIDE)


def timed(fn: Callable, *args) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one ``fn(*args)``, its result fetched."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    if isinstance(result, tf.Tensor):
        result.numpy()
    return time.perf_counter() - wall, time.process_time() - cpu


def matmul_gflops(n: int = 2048, reps: int = 5, device: str = "/CPU:0") -> dict:
    """float32 (n x n) @ (n x n) rate on ``device``: the machine's practical ceiling.

    Returns {'n', 'times_s', 'gflops'} with the rate (2 n^3 FLOPs) of the median time; the
    first (warm-up) call is not counted.
    """
    with tf.device(device):
        a = tf.random.stateless_normal([n, n], seed=[1, 2])
        b = tf.random.stateless_normal([n, n], seed=[3, 4])
        product = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
        product(a, b).numpy()
        times = [timed(product, a, b)[0] for _ in range(reps)]
    return {"n": n, "times_s": times, "gflops": 2 * n**3 / float(np.median(times)) / 1e9}


def mixed_precision_net(net: DreamNet, dtype: str = "bfloat16") -> DreamNet:
    """A copy of ``net`` computing in ``dtype``, outputs cast back to float32 by
    :func:`~tf_impl.net.network.run_model`. bfloat16: the project's bfloat16 net, what
    ``--precision bfloat16`` dreams with (:func:`tf_impl.dream.precision.bfloat16_net`: every
    layer in bfloat16). float16: Keras mixed precision (float32 weights cast per layer;
    LRN kept float32)."""
    if dtype == "bfloat16":
        low = bfloat16_net(net)
        return dataclasses.replace(low, metadata={**low.metadata, "mixed_precision": dtype})
    policy = keras.DTypePolicy(f"mixed_{dtype}")

    def clone(layer):
        config = layer.get_config()
        if not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = "float32" if isinstance(layer, CaffeLRN) else policy
        return layer.__class__.from_config(config)

    return net.cloned(clone, mixed_precision=dtype)
