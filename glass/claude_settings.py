"""Claude Code's settings files and how Glass's recall hooks are recognised in them.

Shared, read-only facts: `analyze/recall/settings.py` (`hooks install|remove|
status`) writes the entries, `capture/launch.py` (`make run-claude`) only checks
whether they are there, without importing the analyzer.

A Glass hook is a `"type": "command"` hook whose command runs `-m analyze`
with `hook session-start` (under SessionStart) or `hook prompt` (under
UserPromptSubmit), whatever Python and config path it names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

HOOK_EVENTS: Final = {"SessionStart": "session-start", "UserPromptSubmit": "prompt"}
"""Claude Code hook event -> the `python -m analyze hook` sub-command that answers it."""

_GLASS_COMMAND: Final = re.compile(r"\s-m\s+analyze\s(?:.*\s)?hook\s+(session-start|prompt)\s*$")


def glass_hook_of(entry: Any) -> str | None:
    """The `hook` sub-command a settings hook entry runs when it is Glass's, else None."""
    if not isinstance(entry, dict) or entry.get("type", "command") != "command":
        return None
    command = entry.get("command")
    if not isinstance(command, str):
        return None
    match = _GLASS_COMMAND.search(f" {command} ")
    return match.group(1) if match else None


def settings_files(project: Path, *, home: Path) -> list[Path]:
    """Where Claude Code reads hooks for a session in `project`: the project's shared and
    local settings, then the user's."""
    claude = project / ".claude"
    return [
        claude / "settings.json",
        claude / "settings.local.json",
        home / ".claude/settings.json",
    ]


def installed_events(doc: Any) -> dict[str, str]:
    """{event: command} of the Glass hooks in a parsed settings document."""
    out: dict[str, str] = {}
    hooks = doc.get("hooks") if isinstance(doc, dict) else None
    if not isinstance(hooks, dict):
        return out
    for event, sub in HOOK_EVENTS.items():
        groups = hooks.get(event)
        for group in groups if isinstance(groups, list) else []:
            entries = group.get("hooks") if isinstance(group, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                if glass_hook_of(entry) == sub:
                    out.setdefault(event, entry["command"])
    return out


def read_installed(path: Path) -> dict[str, str]:
    """`installed_events` of a settings file; {} when it is missing or not valid JSON."""
    try:
        return installed_events(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return {}


def hooks_installed(project: Path, *, home: Path) -> bool:
    """Both Glass hooks are set up for sessions in `project` (in any of its settings files)."""
    found: set[str] = set()
    for path in settings_files(project, home=home):
        found |= set(read_installed(path))
    return found >= set(HOOK_EVENTS)
