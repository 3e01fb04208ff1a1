"""``python -m zonage`` runs the CLI under its error policy."""

import sys

from zonage.cli import main

sys.exit(main())
