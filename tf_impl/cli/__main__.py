"""``python -m tf_impl.cli``: the same as the ``deepdream`` console script."""

import sys

from tf_impl.cli import main

sys.exit(main())
