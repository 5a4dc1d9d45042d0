"""`python -m analyze`: see analyze/cli.py.

The recall commands (search, forget, restore, export, mcp) go straight to
analyze/recall/commands.py, so that they start without the analyzer's
imports (the anthropic SDK).
"""

import sys

from analyze.recall import commands

if __name__ == "__main__":
    if commands.command_of(sys.argv[1:]) in commands.COMMANDS:
        sys.exit(commands.main(sys.argv[1:]))
    from analyze.cli import main

    sys.exit(main())
