"""The original DeepDream notebook on real Caffe, and the stored reference data it makes."""
