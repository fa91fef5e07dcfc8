"""`python -m portal serve|users ...`."""

import sys

from portal.cli import main

sys.exit(main())
