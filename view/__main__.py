"""`python -m view`: see view/cli.py."""

import sys

from view.cli import main

sys.exit(main())
