"""The network: Caffe's layers in Keras with Caffe's exact semantics, the builder that turns a
parsed Caffe net into a Keras model, and what can be computed from the net alone (blob shapes,
receptive fields, the memory a step needs, channel statistics)."""
