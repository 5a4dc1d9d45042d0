"""analyze/recall/settings.py: `python -m analyze hooks install|remove|status` on real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from glass.claude_settings import hooks_installed, installed_events

ROOT = Path(__file__).resolve().parents[3]

USERS = {
    "model": "opus",
    "hooks": {
        "SessionStart": [
            {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}
        ],
        "UserPromptSubmit": [
            {
                "hooks": [
                    {"type": "command", "command": "~/bin/log-prompt"},
                    {"type": "command", "command": "python -m analyzer hook prompt"},
                ]
            }
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
    "permissions": {"allow": ["Read"]},
    "env": {"FOO": "Grüße"},
}


def hooks_cmd(
    *args: str, config: Path, home: Path, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyze", "--config", str(config), "hooks", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HOME": str(home)},
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "glass" / "config.yaml"
    path.parent.mkdir()
    path.write_text("capture:\n  dir: captures\n", encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def settings_of(project: Path) -> Path:
    return project / ".claude" / "settings.json"


def write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def test_install_twice_then_remove_gives_back_the_same_bytes(tmp_path, config, home) -> None:
    project = tmp_path / "project"
    original = (json.dumps(USERS, indent=2, ensure_ascii=False) + "\n").encode()
    write(settings_of(project), original, 0o640)
    for _ in range(2):
        done = hooks_cmd("install", "--project", str(project), config=config, home=home)
        assert done.returncode == 0, done.stderr
    doc = json.loads(settings_of(project).read_bytes())
    found = installed_events(doc)
    assert set(found) == {"SessionStart", "UserPromptSubmit"}
    glass = [
        e
        for groups in doc["hooks"].values()
        for g in groups
        for e in g["hooks"]
        if "-m analyze --config" in e["command"]
    ]
    assert len(glass) == 2  # one each, however often installed
    python = str(ROOT / ".venv" / "bin" / "python")
    assert found["SessionStart"] == f"{python} -m analyze --config {config} hook session-start"
    assert found["UserPromptSubmit"] == f"{python} -m analyze --config {config} hook prompt"
    # The user's own hooks and keys are all still there, in their order, ours appended.
    assert doc["hooks"]["SessionStart"][0] == USERS["hooks"]["SessionStart"][0]
    assert doc["hooks"]["UserPromptSubmit"][0] == USERS["hooks"]["UserPromptSubmit"][0]
    assert {k: v for k, v in doc.items() if k != "hooks"} == {
        k: v for k, v in USERS.items() if k != "hooks"
    }
    assert stat.S_IMODE(settings_of(project).stat().st_mode) == 0o640
    assert hooks_installed(project, home=home)

    done = hooks_cmd("remove", "--project", str(project), config=config, home=home)
    assert done.returncode == 0, done.stderr
    assert settings_of(project).read_bytes() == original
    assert not hooks_installed(project, home=home)


def test_another_layout_comes_back_as_the_same_json(tmp_path, config, home) -> None:
    project = tmp_path / "project"
    write(settings_of(project), json.dumps(USERS, separators=(",", ":")).encode())
    assert hooks_cmd("install", "--project", str(project), config=config, home=home).returncode == 0
    assert hooks_cmd("remove", "--project", str(project), config=config, home=home).returncode == 0
    assert json.loads(settings_of(project).read_bytes()) == USERS


def test_a_new_project_gets_both_hooks_and_the_mcp_server(tmp_path, config, home) -> None:
    project = tmp_path / "fresh"
    project.mkdir()
    write(project / ".mcp.json", b'{"mcpServers": {"db": {"command": "db-mcp"}}}\n')
    done = hooks_cmd("install", config=config, home=home, cwd=project)  # default: this folder
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(settings_of(project).stat().st_mode) == 0o600
    servers = json.loads((project / ".mcp.json").read_bytes())["mcpServers"]
    assert servers["db"] == {"command": "db-mcp"}
    assert servers["glass"]["args"] == ["-m", "analyze", "--config", str(config), "mcp"]
    status = hooks_cmd("status", "--project", str(project), config=config, home=home)
    assert f"{settings_of(project)}: SessionStart: " in status.stdout
    assert f"{project / '.mcp.json'}: MCP server 'glass' registered" in status.stdout
    assert f"{home / '.claude/settings.json'}: no Glass hooks" in status.stdout
    assert hooks_cmd("remove", "--project", str(project), config=config, home=home).returncode == 0
    assert json.loads((project / ".mcp.json").read_bytes()) == {
        "mcpServers": {"db": {"command": "db-mcp"}}
    }
    assert not settings_of(project).exists()  # install made it; remove leaves no `{}` behind


def test_remove_deletes_the_files_install_made(tmp_path, config, home) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    assert hooks_cmd("install", "--project", str(project), config=config, home=home).returncode == 0
    assert settings_of(project).exists() and (project / ".mcp.json").exists()
    done = hooks_cmd("remove", "--project", str(project), config=config, home=home)
    assert done.returncode == 0, done.stderr
    assert not settings_of(project).exists() and not (project / ".mcp.json").exists()
    assert f"removed the MCP server 'glass' from {project / '.mcp.json'}" in done.stdout


def test_user_scope_and_no_mcp(tmp_path, config, home) -> None:
    project = tmp_path / "project"
    project.mkdir()
    done = hooks_cmd("install", "--user", config=config, home=home, cwd=project)
    assert done.returncode == 0, done.stderr
    assert set(installed_events(json.loads((home / ".claude/settings.json").read_bytes()))) == {
        "SessionStart",
        "UserPromptSubmit",
    }
    assert hooks_installed(project, home=home)
    assert not (project / ".mcp.json").exists() and not settings_of(project).exists()
    done = hooks_cmd("install", "--no-mcp", "--project", str(project), config=config, home=home)
    assert done.returncode == 0 and not (project / ".mcp.json").exists()


@pytest.mark.parametrize(
    "data",
    [
        b'{"hooks": {"SessionStart": [}',
        b"\xff\xfe\x00binary",
        b"[1, 2, 3]\n",
        b'{"hooks": []}',
        b'{"hooks": {"UserPromptSubmit": {"command": "x"}}}',
    ],
)
def test_a_broken_settings_file_is_refused_untouched(tmp_path, config, home, data) -> None:
    project = tmp_path / "project"
    write(settings_of(project), data, 0o644)
    before = settings_of(project).stat()
    for action in ("install", "remove"):
        done = hooks_cmd(action, "--project", str(project), config=config, home=home)
        assert done.returncode == 2, done
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"error: {settings_of(project)}") and "untouched" in line
    assert settings_of(project).read_bytes() == data
    assert settings_of(project).stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in settings_of(project).parent.iterdir()) == ["settings.json"]
    assert not (project / ".mcp.json").exists()


def test_a_foreign_glass_mcp_server_is_left_alone(tmp_path, config, home) -> None:
    project = tmp_path / "project"
    write(project / ".mcp.json", b'{"mcpServers": {"glass": {"command": "glass-cutter"}}}')
    done = hooks_cmd("install", "--project", str(project), config=config, home=home)
    assert done.returncode == 2 and "not Glass's" in done.stderr
    assert not (project / ".claude").exists()  # nothing written when one file is refused
    assert (project / ".mcp.json").read_bytes() == (
        b'{"mcpServers": {"glass": {"command": "glass-cutter"}}}'
    )


def test_install_needs_a_config_file(tmp_path, home) -> None:
    done = hooks_cmd(
        "install", "--project", str(tmp_path), config=tmp_path / "nope.yaml", home=home
    )
    assert done.returncode == 2 and "not found" in done.stderr
    assert not (tmp_path / ".claude").exists()
