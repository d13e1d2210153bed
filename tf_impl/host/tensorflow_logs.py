"""TensorFlow without its log lines on a healthy machine: its start-up banners (oneDNN, CPU
features), written before its logging is set up and so deaf to TF_CPP_MIN_LOG_LEVEL, and its
later C++ and Python log lines. No TensorFlow import at module level: this runs first."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow_logs() -> None:
    """Set, before TensorFlow is imported, the variables that keep its C++ and Python log lines
    (oneDNN banners, CUDA probing on a machine without a GPU) off stderr; errors stay."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++: fatal only (errors raise anyway)
    os.environ.setdefault("TF_CPP_MAX_VLOG_LEVEL", "-1")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def import_tensorflow_quietly(verbose: bool = False) -> None:
    """Import TensorFlow with its start-up chatter hidden (``verbose``, the CLI's ``--verbose``,
    or DEEPDREAM_VERBOSE=1 shows it), and its later C++ and Python log lines below errors too.
    Call it before anything imports TensorFlow (the CLI does; in Python, first thing).

    Some of TF's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL, so stderr is silenced at the
    file-descriptor level during the import; an import error is still raised and shown.
    """
    if verbose or os.environ.get("DEEPDREAM_VERBOSE"):
        return
    quiet_tensorflow_logs()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
    except ImportError as error:
        # Ctrl-C inside a C extension's initialisation surfaces as "ImportError:
        # initialization failed" raised from the KeyboardInterrupt: it is still an interrupt.
        if isinstance(error.__cause__ or error.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from error
        raise
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
