"""Speed and memory benchmarks: TF2 (eager, tf.function, XLA) against real Caffe.

``python -m benchmarks.run`` (``make bench``, ``make bench-smoke``) is the one harness: it
writes the raw JSON, a Markdown table and a plot to ``benchmarks/results/``.
"""

# tf_impl's CPU defaults (oneDNN on x86-64) must be set before any benchmark module loads
# TensorFlow, which reads them once at import.
import tf_impl  # noqa: F401
