"""`python -m core VERB ...`: the `dlstudio` command without its console script (`core.cli`)."""

import sys

from core.cli import main

sys.exit(main())
