"""DeepDream in TensorFlow 2: the Keras builder for Caffe net specs, Caffe-exact layers, the
dream algorithm and the CLI. The only package that imports TensorFlow; it builds on
``conversion`` (model files, the model table), never the reverse.

TensorFlow's own CPU default stands: oneDNN on CPUs with AVX-512 (VNNI / BF16 / AMX), its Eigen
kernels elsewhere. On AVX2-only CPUs ``TF_ENABLE_ONEDNN_OPTS=1`` runs oneDNN's AVX2 kernels,
1.3-1.4x faster steps at the octave sizes, but the float64 judge fails one live Caffe case with
it (docs/performance.md), so it is the user's choice there, not the project's default.
"""
