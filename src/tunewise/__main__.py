"""``python -m tunewise``: the ``tunewise`` command, for when its script is not on PATH."""

import sys

from tunewise.cli import main

sys.exit(main())
