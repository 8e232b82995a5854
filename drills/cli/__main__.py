"""`python -m drills.cli` runs the `drills` command."""

import sys

from drills.cli import main

sys.exit(main())
