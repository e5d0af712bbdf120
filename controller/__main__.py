"""`python -m controller` runs the `inversion-table` command."""

import sys

from controller.commands.cli import main

sys.exit(main())
