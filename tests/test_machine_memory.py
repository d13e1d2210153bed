"""Where a dream step's memory budget comes from: the GPU TensorFlow runs steps on, else the
host (issue 10 part 4). The selection takes the GPU list as an argument, so it is tested here
with lists of GPUs on a machine that has none; the list itself is read from TensorFlow."""

from __future__ import annotations

import tensorflow as tf

from tf_impl.host.memory import DeviceMemory, gpu_memory, step_memory_available

HOST = (12 * 10**9, "MemAvailable")


def host():
    return HOST


def test_a_visible_gpu_gives_the_step_budget():
    gpus = [DeviceMemory("GPU:0", 30 * 10**9), DeviceMemory("GPU:1", 70 * 10**9)]
    # TensorFlow places the step on the first GPU: its memory counts, not the larger one's.
    assert step_memory_available(gpus, host) == (30 * 10**9, "GPU:0 memory")


def test_without_a_gpu_the_host_gives_the_step_budget():
    assert step_memory_available([], host) == HOST


def test_the_gpu_list_is_what_tensorflow_sees():
    gpus = gpu_memory()
    assert len(gpus) == len(tf.config.list_physical_devices("GPU"))
    assert all(g.name.startswith("GPU:") and g.free > 0 for g in gpus)
