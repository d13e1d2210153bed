"""Dreaming a video: its settings, frames read and written by ffmpeg (imageio-ffmpeg's
binary), the optical flow that carries the dream from frame to frame (OpenCV), and the
resumable frame loop around :func:`tf_impl.dream.deepdream.deepdream`."""
