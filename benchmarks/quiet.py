"""Imported first by the benchmark entry points (``benchmarks.run``, ``benchmarks.memory_rows``'
fresh processes): TensorFlow loads here with its start-up banners hidden, as the command line
hides them (:func:`tf_impl.host.tensorflow_logs.import_tensorflow_quietly`)."""

from tf_impl.host.tensorflow_logs import import_tensorflow_quietly

import_tensorflow_quietly()
