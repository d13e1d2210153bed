"""Receptive fields computed from the layers: hand-derived GoogLeNet values, and the support
of a real input gradient lies inside the computed box."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conversion.errors import DeepDreamError
from tf_impl.net.receptive_field import receptive_field


@pytest.mark.parametrize(
    ("blob", "rf", "jump", "start"),
    [
        # conv1 7x7 stride 2 pad 3: 7 pixels, 2 apart, unit 0 centred on pixel 0
        ("conv1/7x7_s2", 7, 2, 0.0),
        # pool1 3x3 stride 2 pad 0: 7 + 2*2 = 11, jump 4, centre 0 + 1*2 = 2
        ("pool1/3x3_s2", 11, 4, 2.0),
        # conv2 3x3 pad 1 after a 1x1: 11 + 2*4 = 19
        ("conv2/3x3", 19, 4, 2.0),
        # pool2 3x3 stride 2: 19 + 2*4 = 27, jump 8, centre 2 + 1*4 = 6
        ("pool2/3x3_s2", 27, 8, 6.0),
        # inception 5x5 branches (pad 2) widest: 27 + 4*8 = 59, then 59 + 4*8 = 91
        ("inception_3a/output", 59, 8, 6.0),
        ("inception_3b/output", 91, 8, 6.0),
    ],
)
def test_hand_derived_googlenet_fields(net, blob, rf, jump, start):
    field = receptive_field(net, blob)
    assert field.rf == (rf, rf) and field.jump == (jump, jump) and field.start == (start, start)


def test_gradient_support_lies_inside_the_box(net):
    blob, size = "inception_3b/output", 200
    field = receptive_field(net, blob)
    model = net.submodel([blob])
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(-100, 100, (1, size, size, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(image)
        acts = model(image, training=False)
        y, x = acts.shape[1] // 2, acts.shape[2] // 2
        unit = tf.reduce_sum(acts[0, y, x, :])
    support = np.abs(tape.gradient(unit, image).numpy()[0]).sum(axis=-1) > 0
    rows, cols = np.nonzero(support)
    top, left, bottom, right = field.box(y, x, size, size)
    assert top <= rows.min() and rows.max() < bottom
    assert left <= cols.min() and cols.max() < right
    # and the box is not loose: the gradient reaches most of it
    assert rows.max() - rows.min() + 1 > 0.8 * (bottom - top)


def test_classifier_has_no_receptive_field(net):
    with pytest.raises(DeepDreamError, match="no spatial positions"):
        receptive_field(net, "loss3/classifier")
