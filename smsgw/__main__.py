"""``python -m smsgw`` runs the ``smsgw`` command."""

import sys

from smsgw.cli import main

sys.exit(main())
