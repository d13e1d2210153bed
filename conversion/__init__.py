"""Caffe model files (.caffemodel, .prototxt) to TensorFlow 2 / Keras, without Caffe."""
