"""The original DeepDream notebook on real Caffe, and the stored reference data it makes."""

# tf_impl's CPU defaults (oneDNN on x86-64) must be set before any reference module loads
# TensorFlow, which reads them once at import.
import tf_impl  # noqa: F401
