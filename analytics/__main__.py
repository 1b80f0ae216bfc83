"""Command line entry point: python -m analytics [--dsn DSN] COMMAND ... (see analytics.cli.main)."""

import sys

from analytics.cli.main import main

sys.exit(main())
