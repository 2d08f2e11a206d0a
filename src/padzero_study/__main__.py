"""`python -m padzero_study`: the same as the `padzero` command."""

import sys

from padzero_study.cli import main

sys.exit(main())
