"""Model files and names to networks: converting Caffe files, loading a model by path or by its
name in the model table, and what a loaded net says of its origin (synthetic or trained)."""
