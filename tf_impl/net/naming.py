"""Caffe blob names <-> Keras layer names.

Keras forbids '/' in layer names and TensorFlow name scopes allow only [A-Za-z0-9_.\\/>-], so
a Caffe name is written with '/' as '.', and any other character outside [A-Za-z0-9_-]
(including '.') as '>' plus two hex digits per UTF-8 byte. The mapping is reversible:
``inception_4c/output`` <-> ``inception_4c.output``, ``loss3/top-1`` <-> ``loss3.top-1``.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9_-]")
_ESCAPE = re.compile(r">([0-9a-f]{2})|\.")


def keras_name(caffe_name: str) -> str:
    """The Keras layer name for a Caffe layer or blob name."""
    out = []
    for char in caffe_name:
        if _PLAIN.fullmatch(char):
            out.append(char)
        elif char == "/":
            out.append(".")
        else:
            out.extend(f">{byte:02x}" for byte in char.encode("utf-8"))
    return "".join(out)


def caffe_name(keras_layer_name: str) -> str:
    """Inverse of :func:`keras_name` (names of plain Keras models come back unchanged)."""
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(keras_layer_name):
        raw += keras_layer_name[position : match.start()].encode("utf-8")
        raw += b"/" if match[0] == "." else bytes([int(match[1], 16)])
        position = match.end()
    raw += keras_layer_name[position:].encode("utf-8")
    return raw.decode("utf-8")
