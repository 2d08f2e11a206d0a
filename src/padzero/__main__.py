"""`python -m padzero`: the same as the `padzero` command."""

import sys

from padzero.cli import main

sys.exit(main())
