"""`python -m controller` runs the `inversion-table` command."""

import sys

from controller.cli import main

sys.exit(main())
