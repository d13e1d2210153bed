"""DeepDream in TensorFlow 2: the Keras builder for Caffe net specs, Caffe-exact layers, the
dream algorithm and the CLI. The only package that imports TensorFlow; it builds on
``conversion`` (model files, the model table), never the reverse.

Importing it turns TensorFlow's oneDNN kernels on for x86-64 CPUs unless
``TF_ENABLE_ONEDNN_OPTS`` is already set (it must be, to take effect, before TensorFlow is
imported): TensorFlow does so by itself only on CPUs with AVX-512, and its own kernels (Eigen)
are built without AVX2/FMA, so on AVX2-only CPUs oneDNN is the fast path for most ops (measured
in docs/performance.md; its rounding passes the float64 judge there as on AVX-512 CPUs, where a
near-tie flips, along the branches it took). The exception, spatial convolution forwards, whose
Eigen kernel is faster there, is :mod:`tf_impl.net.cpu_convolution`'s.
"""

import os
import platform

if platform.machine().lower() in {"x86_64", "amd64"}:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
