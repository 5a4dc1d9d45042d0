"""`python -m analyze`: see analyze/cli.py."""

import sys

from analyze.cli import main

if __name__ == "__main__":
    sys.exit(main())
