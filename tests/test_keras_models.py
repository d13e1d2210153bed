"""Keras application models dream with their own preprocessing (random weights: offline)."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.errors import DeepDreamError
from tf_impl.dream.deepdream import deepdream
from tf_impl.dream.settings import DreamSettings
from tf_impl.models.loading import load_keras_app


@pytest.fixture(scope="module")
def inception_v3():
    return load_keras_app("keras:InceptionV3", weights=None)


def test_preprocessing_is_the_models_own(inception_v3):
    rgb = np.array([[[0, 127.5, 255]]], np.float32)
    np.testing.assert_allclose(inception_v3.preprocess(rgb), [[[-1.0, 0.0, 1.0]]], atol=1e-6)
    np.testing.assert_allclose(inception_v3.deprocess(inception_v3.preprocess(rgb)), rgb, atol=1e-4)
    lower, upper = inception_v3.input_bounds()
    np.testing.assert_allclose(lower, -1.0)
    np.testing.assert_allclose(upper, 1.0)


def test_dream_by_keras_layer_name(inception_v3):
    rgb = np.random.default_rng(0).uniform(0, 255, (160, 200, 3)).astype(np.float32)
    out = deepdream(inception_v3, rgb, DreamSettings(end="mixed3", octave_n=2, iter_n=2), seed=0)
    assert out.shape == rgb.shape and out.min() >= 0 and out.max() <= 255
    # Step size is in pixel units: 4 steps of mean |change| 1.5 px, before clipping.
    assert 1.0 < np.abs(out - rgb).mean() < 6.0


def test_too_small_for_keras_model_is_a_clear_error(inception_v3):
    rgb = np.zeros((100, 100, 3), np.float32)
    with pytest.raises(DeepDreamError, match="too small for 4 octaves"):
        deepdream(inception_v3, rgb, DreamSettings(end="mixed3", octave_n=4, iter_n=1), seed=0)


def test_unknown_keras_model():
    with pytest.raises(DeepDreamError, match=r"known names: .*keras:InceptionV3"):
        load_keras_app("keras:InceptionV9", weights=None)
