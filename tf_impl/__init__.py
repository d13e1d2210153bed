"""DeepDream in TensorFlow 2: the Keras builder for Caffe net specs, Caffe-exact layers, the
dream algorithm and the CLI. The only package that imports TensorFlow; it builds on
``conversion`` (model files, the model table), never the reverse."""
