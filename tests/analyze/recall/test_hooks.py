"""analyze/recall/hooks.py: `python -m analyze hook session-start|prompt` as Claude Code runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from analyze import store
from analyze.recall import block, hooks
from tests.analyze.recall.fixtures import memory

ROOT = Path(__file__).resolve().parents[3]
PROJECT = "/w/app"
TABS = memory("The user prefers tabs over spaces.", "preference", PROJECT)
ALEMBIC = memory("Run database migrations with alembic, never by hand.", "convention", PROJECT)
OTHER = memory("Use pnpm, not npm, for the web client.", "decision", "/w/other")
SESSION = "0b7e4a52-3f0c-4c1e-9d55-6a2f1c9e8b10"


def stdin(event: str, **extra: str) -> bytes:
    data = {
        "session_id": SESSION,
        "transcript_path": f"/home/u/.claude/projects/x/{SESSION}.jsonl",
        "cwd": PROJECT + "/src",
        "hook_event_name": event,
        **extra,
    }
    return json.dumps(data).encode()


START = stdin("SessionStart", source="startup")


def prompt(text: str) -> bytes:
    return stdin("UserPromptSubmit", prompt=text, prompt_id="p1", permission_mode="default")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "memories.jsonl").write_bytes(store.encode([TABS, ALEMBIC, OTHER]))
    path = tmp_path / "config.yaml"
    path.write_text(f"capture:\n  dir: {json.dumps(str(captures))}\n", encoding="utf-8")
    return path


def state(config: Path) -> Path:
    return config.parent / "captures" / ".analyze"


def hook(config: Path, command: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    """The hook exactly as Claude Code runs it: a process, stdin, exit code, stdout."""
    return subprocess.run(
        [sys.executable, "-m", "analyze", "--config", str(config), "hook", command],
        input=data,
        check=False,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )


def context(done: subprocess.CompletedProcess[bytes], event: str) -> str:
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["hookSpecificOutput"]
    assert list(out["hookSpecificOutput"]) == ["hookEventName", "additionalContext"]
    assert out["hookSpecificOutput"]["hookEventName"] == event
    return out["hookSpecificOutput"]["additionalContext"]


def log_lines(config: Path) -> list[str]:
    return (state(config) / hooks.LOG_FILE).read_text(encoding="utf-8").splitlines()


def test_session_start_then_a_prompt_in_the_json_form(config: Path) -> None:
    text = context(hook(config, "session-start", START), "SessionStart")
    assert list(block.ids_in(text)) == [TABS.id, ALEMBIC.id]
    assert OTHER.id not in text
    # The prompt matches ALEMBIC, which the session already has: nothing new to add.
    again = hook(config, "prompt", prompt("How do I run the alembic migrations?"))
    assert (again.returncode, again.stdout, again.stderr) == (0, b"", b"")
    assert not (state(config) / hooks.LOG_FILE).exists()


def test_a_prompt_of_a_session_without_session_start_gets_its_matches(config: Path) -> None:
    text = context(
        hook(config, "prompt", prompt("How do I run the alembic migrations?")), "UserPromptSubmit"
    )
    assert list(block.ids_in(text)) == [ALEMBIC.id]
    mode = stat.S_IMODE(os.stat(state(config) / hooks.SESSIONS_DIR / SESSION).st_mode)
    assert mode == 0o600
    # Given once: the same prompt again adds nothing.
    assert hook(config, "prompt", prompt("How do I run the alembic migrations?")).stdout == b""


def assert_silent(done: subprocess.CompletedProcess[bytes]) -> None:
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), done


def test_missing_store_is_silent_and_logged(config: Path) -> None:
    (config.parent / "captures" / "memories.jsonl").unlink()
    assert_silent(hook(config, "session-start", START))
    (line,) = log_lines(config)
    assert "hook session-start: NoStore: no memory store at" in line
    assert stat.S_IMODE(os.stat(state(config) / hooks.LOG_FILE).st_mode) == 0o600


def test_bad_config_is_silent_and_logged_beside_it(config: Path) -> None:
    config.write_text("recall:\n  max_chars: lots\n", encoding="utf-8")
    assert_silent(hook(config, "session-start", START))
    assert_silent(hook(config, "prompt", prompt("How do I run the alembic migrations?")))
    lines = log_lines(config)  # the default state folder beside the config
    assert len(lines) == 2 and all("ConfigError" in line and "max_chars" in line for line in lines)


def test_corrupt_index_is_rebuilt_and_a_corrupt_store_is_silent(config: Path) -> None:
    state(config).mkdir(parents=True)
    (state(config) / "recall.sqlite3").write_bytes(b"this is not a database" * 100)
    text = context(hook(config, "session-start", START), "SessionStart")
    assert list(block.ids_in(text)) == [TABS.id, ALEMBIC.id]
    (state(config) / "recall.sqlite3").write_bytes(b"\x00garbage" * 4096)
    (state(config) / "recall.sqlite3").chmod(0o400)
    done = hook(config, "session-start", START)
    assert done.returncode == 0 and done.stderr == b""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"\xff\xfe binary",
        json.dumps({"hook_event_name": "SessionStart", "cwd": "/w/app"}).encode(),
        json.dumps(
            {"hook_event_name": "SessionStart", "session_id": "../../etc", "cwd": "/"}
        ).encode(),
        prompt("How do I run the alembic migrations?"),  # the wrong event for session-start
    ],
)
def test_bad_stdin_is_silent_and_logged(config: Path, data: bytes) -> None:
    assert_silent(hook(config, "session-start", data))
    (line,) = log_lines(config)
    assert "HookInputError" in line


def test_a_bug_is_silent_and_logged_with_its_traceback(config: Path, monkeypatch, capsys) -> None:
    def boom(*args: object, **kw: object) -> str:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("analyze.recall.select.session_block", boom)

    class In:
        def read(self, n: int) -> bytes:
            return START

    assert hooks.main(["--config", str(config), "hook", "session-start"], stdin=In()) == 0
    assert capsys.readouterr() == ("", "")
    (line,) = log_lines(config)
    assert "ZeroDivisionError: a bug | Traceback" in line and "boom" in line


def test_unknown_command_is_silent(config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "analyze", "--config", str(config), "hook", "stop"],
        input=START,
        check=False,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert_silent(done)
    assert "usage" in log_lines(config)[0]


def test_the_hook_imports_nothing_heavy(config: Path) -> None:
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['analyze', '--config', {str(config)!r}, 'hook', 'session-start']\n"
        "try:\n    runpy.run_module('analyze', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('anthropic', 'httpx', 'httpx2', 'mcp', 'rapidfuzz', 'analyze.pipeline',"
        " 'analyze.backends', 'analyze.cli', 'watchdog')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=START,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr.decode().strip() == "[]"
    assert TABS.id in done.stdout.decode()


def test_the_log_is_rotated(tmp_path: Path) -> None:
    path = tmp_path / "state" / hooks.LOG_FILE
    hooks.log(path, command="prompt", message="one\ntwo", now=0)
    assert path.read_text().endswith("hook prompt: one | two\n")
    with path.open("a") as f:
        f.write("x" * hooks.LOG_MAX_BYTES)
    hooks.log(path, command="prompt", message="three", now=0)
    assert path.read_text().count("\n") == 1 and (tmp_path / "state" / "hooks.log.1").exists()


def test_old_session_records_are_pruned(tmp_path: Path) -> None:
    hooks.record_given(tmp_path, "old", ["m_1"])
    hooks.record_given(tmp_path, "new", ["m_2", "m_3"])
    hooks.record_given(tmp_path, "new", ["m_4"])
    old = tmp_path / hooks.SESSIONS_DIR / "old"
    os.utime(old, (1_000, 1_000))
    hooks.prune_sessions(tmp_path, now=1_000 + hooks.SESSION_MAX_AGE_S + 1)
    assert not old.exists()
    assert hooks.given_ids(tmp_path, "new") == {"m_2", "m_3", "m_4"}
