"""`python -m analyze [--config PATH] hook session-start|prompt`: Claude Code's hook commands.

Claude Code runs the command with one JSON object on stdin (README, "Recall
into Claude Code", has the exact contract of the pinned version) and, on
exit 0, hands what it prints to the model. This module:

1. reads stdin (`session_id`, `cwd`, `hook_event_name`, and `prompt` for
   UserPromptSubmit) and the config;
2. opens the recall index (analyze/recall/index.py) and asks
   analyze/recall/select.py for the block;
3. prints `{"hookSpecificOutput": {"hookEventName": ..., "additionalContext":
   <block>}}`, or nothing when the block is empty;
4. appends the ids it gave to `<state_dir>/recall-sessions/<session_id>`,
   so that a later prompt of the same session does not repeat them.

It never breaks Claude Code: whatever goes wrong (no store yet, a bad config,
unreadable or corrupt files, bad stdin, a bug) ends with exit 0, no output,
and one line in `<state_dir>/hooks.log` (0600). It imports nothing heavy (no
anthropic SDK, httpx, mcp, pipeline): it runs on every session and prompt.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

EVENTS = {"session-start": "SessionStart", "prompt": "UserPromptSubmit"}
"""Our sub-command -> the Claude Code hook event it answers."""
LOG_FILE = "hooks.log"
LOG_MAX_BYTES = 1 << 20
"""hooks.log is moved to hooks.log.1 beyond this size."""
SESSIONS_DIR = "recall-sessions"
SESSION_MAX_AGE_S = 30 * 86400
"""A session's record of given ids is dropped this long after it was last written."""
STDIN_MAX_BYTES = 4 << 20
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class HookInputError(Exception):
    """Claude Code's stdin (or the command line) is not what the hook contract says."""


class NoStore(Exception):
    """There is no memory store yet: nothing to recall."""


@dataclass(frozen=True, kw_only=True)
class HookInput:
    event: str
    session_id: str
    cwd: str
    prompt: str


def parse_input(raw: bytes, *, event: str) -> HookInput:
    """The hook's stdin; `event` is the Claude Code event this command answers."""
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise HookInputError(f"stdin is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise HookInputError("stdin is not a JSON object")
    name = data.get("hook_event_name")
    if name != event:
        raise HookInputError(f"hook_event_name is {name!r}, this command answers {event}")
    session_id, cwd, prompt = data.get("session_id"), data.get("cwd"), data.get("prompt", "")
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise HookInputError(f"session_id {session_id!r} is not a session id")
    if not isinstance(cwd, str) or not cwd:
        raise HookInputError("cwd is missing")
    if not isinstance(prompt, str):
        raise HookInputError("prompt is not a string")
    return HookInput(event=event, session_id=session_id, cwd=cwd, prompt=prompt)


def output(*, event: str, text: str) -> str:
    """What the hook prints: Claude Code's JSON form, or "" for nothing."""
    if not text:
        return ""
    payload = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
    return json.dumps(payload, ensure_ascii=False)


# -- the ids a session was given ----------------------------------------------------------


def given_ids(state_dir: Path, session_id: str) -> set[str]:
    try:
        text = (state_dir / SESSIONS_DIR / session_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return set(text.split())


def record_given(state_dir: Path, session_id: str, ids: Sequence[str]) -> None:
    if not ids:
        return
    folder = state_dir / SESSIONS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / session_id, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, "".join(f"{i}\n" for i in ids).encode())
    finally:
        os.close(fd)


def prune_sessions(state_dir: Path, *, now: float) -> None:
    """Forget the given ids of sessions not written to for SESSION_MAX_AGE_S."""
    try:
        entries = list(os.scandir(state_dir / SESSIONS_DIR))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if now - entry.stat().st_mtime > SESSION_MAX_AGE_S:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue


# -- running ------------------------------------------------------------------------------


def run(command: str, *, raw: bytes, config: str | None, now: float) -> str:
    """The hook's output for `command` (a key of EVENTS); raises on any problem."""
    # Imported here, inside main()'s guard: even a broken import is logged, not shown.
    from analyze.recall import block, select
    from analyze.recall.index import MemoryIndex
    from glass.config import load_config

    event = EVENTS[command]
    hook = parse_input(raw, event=event)
    cfg = load_config(config)
    a = cfg.analyze
    assert a.store is not None and a.state_dir is not None  # load_config fills them in
    if not a.store.is_file():
        raise NoStore(f"no memory store at {a.store} yet (run `make analyze`)")
    with MemoryIndex.open(store=a.store, state_dir=a.state_dir) as index:
        if command == "session-start":
            prune_sessions(a.state_dir, now=now)
            text = select.session_block(index, cwd=hook.cwd, cfg=cfg.recall)
        else:
            already = given_ids(a.state_dir, hook.session_id)
            text = select.prompt_block(
                index, cwd=hook.cwd, prompt=hook.prompt, cfg=cfg.recall, already=already
            )
    record_given(a.state_dir, hook.session_id, list(block.ids_in(text)))
    return output(event=event, text=text)


def log_path(config: str | None) -> Path:
    """<state_dir>/hooks.log of the config; of the default layout beside it if it is unusable."""
    from glass.config import ConfigError, load_config

    try:
        state_dir = load_config(config).analyze.state_dir
    except (ConfigError, OSError):
        state_dir = None
    if state_dir is None:
        from glass.contract import STATE_DIR

        base = Path(config).absolute().parent if config else Path.cwd()
        state_dir = base / "captures" / STATE_DIR
    return state_dir / LOG_FILE


def log(path: Path, *, command: str, message: str, now: float) -> None:
    """Append one line to the hook log (0600); the log is rotated above LOG_MAX_BYTES."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now))
    flat = " | ".join(message.strip().splitlines())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, f"{stamp} hook {command}: {flat}\n".encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _split_argv(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """(--config value, the rest) of `[--config PATH] hook <command>`."""
    args = list(argv)
    if args[:1] == ["--config"] and len(args) >= 2:
        return args[1], args[2:]
    if args and args[0].startswith("--config="):
        return args[0].split("=", 1)[1], args[1:]
    return None, args


def main(
    argv: Sequence[str],
    *,
    stdin: Any = None,
    stdout: TextIO | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run one hook; always 0. Problems go to the hook log, never to Claude Code."""
    out = sys.stdout if stdout is None else stdout
    source = sys.stdin.buffer if stdin is None else stdin
    config, rest = _split_argv(argv)
    command = " ".join(rest[1:]) or "?"
    try:
        if len(rest) != 2 or rest[0] != "hook" or command not in EVENTS:
            raise HookInputError(
                f"usage: python -m analyze [--config PATH] hook {'|'.join(EVENTS)}"
            )
        text = run(command, raw=source.read(STDIN_MAX_BYTES), config=config, now=clock())
        if text:
            out.write(text + "\n")
            out.flush()
    # A hook must never break Claude Code: every failure, a bug included, is logged with its
    # traceback and the hook exits 0 with no output (Claude Code then just goes on).
    except BaseException as e:  # noqa: BLE001  # see the comment above
        detail = f"{type(e).__name__}: {e}"
        if not isinstance(e, HookInputError | NoStore):
            detail += " | " + traceback.format_exc()
        try:
            log(log_path(config), command=command, message=detail, now=clock())
        except Exception:  # noqa: BLE001  # nowhere left to report to; stay silent
            pass
    return 0
