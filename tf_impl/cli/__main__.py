"""``python -m tf_impl.cli``: the same as the ``deepdream`` console script."""

from tf_impl.cli import run

run()
