"""glass/claude_settings.py: recognising Glass's hooks in Claude Code's settings."""

from __future__ import annotations

import json
from pathlib import Path

from glass.claude_settings import glass_hook_of, hooks_installed, installed_events, read_installed

PY = "/home/u/glass/.venv/bin/python"


def entry(command: str, **kw: object) -> dict[str, object]:
    return {"type": "command", "command": command, **kw}


def test_glass_hook_of_recognises_the_commands_whatever_python_and_config() -> None:
    assert glass_hook_of(entry(f"{PY} -m analyze --config /c.yaml hook session-start")) == (
        "session-start"
    )
    assert glass_hook_of(entry("python3 -m analyze hook prompt", timeout=5)) == "prompt"
    assert glass_hook_of(entry("'/p a/python' -m analyze --config '/x y.yaml' hook prompt")) == (
        "prompt"
    )
    for other in (
        "echo -m analyze hook",  # no sub-command
        "python -m analyzer hook prompt",
        "python -m analyze hooks install",
        "python -m analyze hook prompt-less",
        "python -m analyze hook prompt && rm -rf x",
    ):
        assert glass_hook_of(entry(other)) is None, other
    assert glass_hook_of({"type": "prompt", "prompt": "-m analyze hook prompt"}) is None
    assert glass_hook_of("not an entry") is None


def test_installed_events_and_hooks_installed(tmp_path: Path) -> None:
    doc = {
        "hooks": {
            "SessionStart": [{"hooks": [entry(f"{PY} -m analyze hook session-start")]}],
            "UserPromptSubmit": [{"hooks": [entry(f"{PY} -m analyze hook session-start")]}],
        }
    }
    assert list(installed_events(doc)) == ["SessionStart"]  # the wrong one under the prompt
    project, home = tmp_path / "p", tmp_path / "home"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude/settings.json").write_text(json.dumps(doc))
    assert not hooks_installed(project, home=home)
    local = {"hooks": {"UserPromptSubmit": [{"hooks": [entry(f"{PY} -m analyze hook prompt")]}]}}
    (project / ".claude/settings.local.json").write_text(json.dumps(local))
    assert hooks_installed(project, home=home)
    (project / ".claude/settings.local.json").write_text("{not json")
    assert read_installed(project / ".claude/settings.local.json") == {}
    assert not hooks_installed(project, home=home)
    assert installed_events({"hooks": []}) == {} and installed_events([]) == {}
