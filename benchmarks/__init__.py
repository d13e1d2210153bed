"""Speed and memory benchmarks: TF2 (eager, tf.function, XLA) against real Caffe.

``python -m benchmarks.run`` (``make bench``, ``make bench-smoke``) is the one harness: it
writes the raw JSON, a Markdown table and a plot to ``benchmarks/results/``.
"""
