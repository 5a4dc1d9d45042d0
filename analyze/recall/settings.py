"""`python -m analyze [--config PATH] hooks install|remove|status [--project DIR | --user] [--no-mcp]`.

Puts Glass's two recall hooks into a Claude Code settings file, and takes
them out again:

- `--project DIR` (default: the current folder): `DIR/.claude/settings.json`,
  plus the MCP server (`python -m analyze mcp`) as `glass` in `DIR/.mcp.json`
  unless `--no-mcp`; `--user`: `~/.claude/settings.json` (hooks only; the MCP
  server is then added with `claude mcp add --scope user`, which `status`
  prints).
- The file is parsed, changed and written back, keeping every other key and
  hook in place: `install` first takes out any Glass hook already there
  (identified by `glass.claude_settings.glass_hook_of`: the command runs
  `-m analyze … hook session-start|prompt`), then appends one group per event,
  so running it twice leaves one entry each. `remove` takes exactly those
  entries out, and the groups, event lists and `hooks` object they leave
  empty. The written JSON is indented by two spaces, so a file in that layout
  comes back byte for byte after install + remove; any other layout comes
  back as the same JSON value.
- The commands name this checkout's Python (`.venv/bin/python`, absolute) and
  `--config` with the absolute path of the config, so they work from any folder.
- Writes are atomic (a temporary file in the same folder, fsynced, renamed
  over the old one, its mode kept; 0600 for a new file).
- A file that is not valid JSON, or whose `hooks` is not an object of lists,
  is left untouched: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glass.claude_settings import HOOK_EVENTS, glass_hook_of, read_installed, settings_files

ROOT = Path(__file__).resolve().parents[2]
HOOK_TIMEOUT_S = 10
"""The `timeout` written for each hook: Claude Code stops a hook that takes longer."""
MCP_NAME = "glass"


class SettingsError(Exception):
    """A settings file Glass will not change; the message names it and says why."""


@dataclass(frozen=True, kw_only=True)
class Commands:
    python: str
    config: str

    def hook(self, sub: str) -> str:
        argv = [self.python, "-m", "analyze", "--config", self.config, "hook", sub]
        return shlex.join(argv)

    def mcp(self) -> dict[str, Any]:
        return {"command": self.python, "args": ["-m", "analyze", "--config", self.config, "mcp"]}


def this_python() -> str:
    """This checkout's virtualenv Python, absolute (not resolved: that would leave the venv)."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else Path(sys.executable).absolute())


# -- reading and writing JSON files ---------------------------------------------------------


def load(path: Path) -> tuple[dict[str, Any], bool]:
    """(document, existed); {} for a missing or empty file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, False
    if not raw.strip():
        return {}, True
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise SettingsError(f"{path} is not valid JSON ({e}); left it untouched") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"{path} is not a JSON object; left it untouched")
    return doc, True


def dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` by `data`: temp file, fsync, rename, fsync the folder; mode kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    dirfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


# -- the settings document --------------------------------------------------------------------


def _hooks_object(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    hooks = doc.get("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError(f"{path}: `hooks` is not an object; left it untouched")
    for event in HOOK_EVENTS:
        if not isinstance(hooks.get(event, []), list):
            raise SettingsError(f"{path}: `hooks.{event}` is not a list; left it untouched")
    return hooks


def without_glass(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """`doc` without Glass's hook entries, and without what that leaves empty."""
    hooks = _hooks_object(doc, path)
    if "hooks" not in doc:
        return doc
    new_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if event not in HOOK_EVENTS:
            new_hooks[event] = groups
            continue
        kept = []
        for group in groups:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list):
                kept.append(group)
                continue
            others = [e for e in entries if glass_hook_of(e) != HOOK_EVENTS[event]]
            if len(others) == len(entries):
                kept.append(group)
            elif others:
                kept.append({**group, "hooks": others})
        if kept or not groups:
            new_hooks[event] = kept
    out = dict(doc)
    if new_hooks or not hooks:
        out["hooks"] = new_hooks
    else:
        del out["hooks"]
    return out


def with_glass(doc: dict[str, Any], path: Path, commands: Commands) -> dict[str, Any]:
    """`doc` with exactly one Glass hook group per event, appended after the user's."""
    out = without_glass(doc, path)
    hooks = dict(out.get("hooks", {}))
    for event, sub in HOOK_EVENTS.items():
        entry = {"type": "command", "command": commands.hook(sub), "timeout": HOOK_TIMEOUT_S}
        hooks[event] = [*hooks.get(event, []), {"hooks": [entry]}]
    out["hooks"] = hooks
    return out


def _is_glass_mcp(server: Any) -> bool:
    args = server.get("args") if isinstance(server, dict) else None
    return isinstance(args, list) and args[:2] == ["-m", "analyze"] and args[-1:] == ["mcp"]


def mcp_with(doc: dict[str, Any], path: Path, commands: Commands) -> dict[str, Any]:
    servers = doc.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise SettingsError(f"{path}: `mcpServers` is not an object; left it untouched")
    if MCP_NAME in servers and not _is_glass_mcp(servers[MCP_NAME]):
        raise SettingsError(f"{path}: an MCP server named {MCP_NAME!r} is not Glass's; left it")
    return {**doc, "mcpServers": {**servers, MCP_NAME: commands.mcp()}}


def mcp_without(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    servers = doc.get("mcpServers")
    if not isinstance(servers, dict) or not _is_glass_mcp(servers.get(MCP_NAME)):
        return doc
    rest = {k: v for k, v in servers.items() if k != MCP_NAME}
    out = dict(doc)
    if rest:
        out["mcpServers"] = rest
    else:
        del out["mcpServers"]
    return out


# -- the commands -----------------------------------------------------------------------------


Plan = tuple[Path, bytes | None]
"""A file and its new bytes; None: delete it (removing Glass left nothing in it)."""


def _plan(path: Path, change: Any, *, removing: bool = False) -> Plan | None:
    """What `change(doc) -> doc` makes of the JSON file at `path`: None when nothing changes.

    When `removing` leaves an empty object of a file that held something, the file goes
    (install made it, or it held only Glass's entries): Claude Code reads no file as `{}`.
    """
    doc, existed = load(path)
    new = change(doc)
    if new == doc and (existed or not new):
        return None
    if removing and not new:
        return path, None
    return path, dump(new)


def _apply(plans: list[Plan | None]) -> list[Path]:
    """Write what the plans say (every file was read and checked before the first write)."""
    written = []
    for plan in plans:
        if plan is None:
            continue
        path, data = plan
        if data is None:
            path.unlink()
            fsync_folder(path.parent)
        else:
            write_atomic(path, data)
        written.append(path)
    return written


def install(*, settings: Path, mcp: Path | None, commands: Commands) -> list[str]:
    plans = [_plan(settings, lambda d: with_glass(d, settings, commands))]
    if mcp is not None:
        plans.append(_plan(mcp, lambda d: mcp_with(d, mcp, commands)))
    _apply(plans)
    said = [f"installed the SessionStart and UserPromptSubmit hooks in {settings}"]
    if mcp is not None:
        said.append(f"registered the MCP server {MCP_NAME!r} in {mcp}")
    return said


def remove(*, settings: Path, mcp: Path | None) -> list[str]:
    plans = [_plan(settings, lambda d: without_glass(d, settings), removing=True)]
    if mcp is not None:
        plans.append(_plan(mcp, lambda d: mcp_without(d, mcp), removing=True))
    written = _apply(plans)
    said = [
        f"removed Glass's hooks from {settings}"
        if settings in written
        else f"no Glass hooks in {settings}"
    ]
    if mcp is not None and mcp in written:
        said.append(f"removed the MCP server {MCP_NAME!r} from {mcp}")
    return said


def status(*, project: Path, home: Path, commands: Commands) -> list[str]:
    said = []
    for path in settings_files(project, home=home):
        try:
            load(path)
        except SettingsError as e:
            said.append(f"{e}")
            continue
        found = read_installed(path)
        if not found:
            said.append(f"{path}: no Glass hooks")
            continue
        for event, command in found.items():
            said.append(f"{path}: {event}: {command}")
    mcp_path = project / ".mcp.json"
    try:
        servers = json.loads(mcp_path.read_bytes()).get("mcpServers") or {}
    except (OSError, ValueError, AttributeError):
        servers = {}
    if _is_glass_mcp(servers.get(MCP_NAME) if isinstance(servers, dict) else None):
        said.append(f"{mcp_path}: MCP server {MCP_NAME!r} registered")
    else:
        said.append(f"{mcp_path}: no Glass MCP server")
    mcp_cmd = shlex.join(
        ["claude", "mcp", "add", "--scope", "user", MCP_NAME, "--", commands.python]
        + commands.mcp()["args"]
    )
    said.append(f"(for every project: {mcp_cmd})")
    return said


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyze hooks")
    parser.add_argument("--config", default="config.yaml", help="config file (config.yaml)")
    parser.add_argument("hooks", choices=["hooks"], help=argparse.SUPPRESS)
    parser.add_argument("action", choices=["install", "remove", "status"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--project", metavar="DIR", help="the project folder (default: here)")
    where.add_argument("--user", action="store_true", help="~/.claude/settings.json instead")
    parser.add_argument("--no-mcp", action="store_true", help="leave .mcp.json alone")
    args = parser.parse_args(argv)
    config = Path(args.config).expanduser().absolute()
    if args.action == "install" and not config.is_file():
        print(f"error: config file {config} not found (pass --config PATH)", file=sys.stderr)
        return 2
    commands = Commands(python=this_python(), config=str(config))
    home = Path.home()
    project = Path(args.project or ".").expanduser().absolute()
    settings = home / ".claude/settings.json" if args.user else project / ".claude/settings.json"
    mcp = None if args.user or args.no_mcp else project / ".mcp.json"
    try:
        if args.action == "install":
            said = install(settings=settings, mcp=mcp, commands=commands)
        elif args.action == "remove":
            said = remove(settings=settings, mcp=mcp)
        else:
            said = status(project=project, home=home, commands=commands)
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in said:
        print(line)
    return 0
