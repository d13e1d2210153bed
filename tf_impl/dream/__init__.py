"""The DeepDream algorithm on a network: settings, objectives, octaves of gradient-ascent steps
(whole-image or tiled), the feedback zoom, and the precision a dream computes in."""
