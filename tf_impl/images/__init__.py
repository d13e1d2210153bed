"""Image files without TensorFlow: reading, checking and atomically writing pictures, and the
sample photo."""
