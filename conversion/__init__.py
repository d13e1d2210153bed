"""Model files and the model table, without TensorFlow: Caffe files read into a neutral net
spec (layers, parameters, NumPy weights), the GoogLeNet deploy net in code, seeded synthetic
weights, the named models and their download. ``tf_impl`` builds on this, never the reverse."""
