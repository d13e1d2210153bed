"""DeepDream in TensorFlow 2: Caffe-exact GoogLeNet layers, the dream algorithm and the CLI."""
