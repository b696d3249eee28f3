"""``python -m tunewise.cli``: the ``tunewise`` command."""

import sys

from tunewise.cli import main

sys.exit(main())
