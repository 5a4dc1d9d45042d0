"""`python -m analyze`: see analyze/cli.py.

The recall commands (search, forget, restore, export, mcp) go straight to
analyze/recall/commands.py, and the hook commands Claude Code runs (`hook
session-start|prompt`, `hooks install|remove|status`) to analyze/recall/hooks.py
and analyze/recall/settings.py, so that they start without the analyzer's
imports (the anthropic SDK).
"""

import sys

from analyze.recall import commands

if __name__ == "__main__":
    command = commands.command_of(sys.argv[1:])
    if command == "hook":
        from analyze.recall import hooks

        sys.exit(hooks.main(sys.argv[1:]))
    if command == "hooks":
        from analyze.recall import settings

        sys.exit(settings.main(sys.argv[1:]))
    if command in commands.COMMANDS:
        sys.exit(commands.main(sys.argv[1:]))
    from analyze.cli import main

    sys.exit(main())
