"""Speed and memory benchmarks: TF2 (eager, tf.function, XLA) against real Caffe.

``python -m benchmarks.run`` (``make bench``) writes the raw JSON, a Markdown table and a plot
to ``benchmarks/results/``; the ``test_*.py`` files are pytest-benchmark suites
(``pytest benchmarks``), never collected by ``make test``.
"""
