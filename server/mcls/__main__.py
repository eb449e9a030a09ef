"""`python -m mcls` is the `mcls` command."""

import sys

from mcls.cli import main

sys.exit(main())
