"""The captures the browser tests look at, made by real clients through the real proxy.

- :func:`record_cli_session`: the real Claude Code CLI (`make run-claude`, as a user runs
  it) through the capturing proxy to the stand-in API, which has it Read a file, Edit it and
  answer in Markdown (:class:`ReadEditResponder`), each main-loop reply with usage of its own
  (:data:`MAIN_USAGE`) so that the page's token figures can be checked against known numbers.
- :func:`send_through_proxy`: one more Messages request through a running proxy with the
  anthropic SDK (a live capture, or one full of XSS payloads).
- :class:`ViewerServer`: the real viewer, ``python -m view --config <cfg> serve --port 0``
  (what ``make view`` runs), on 127.0.0.1; it prints its URL, which is read from its output.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.test_capture_e2e import make_run_claude
from tests.proxy import (
    API_KEY,
    ROOT,
    CapturingProxy,
    capture_files,
    env_without,
    load_capture,
    require_claude,
    sdk_client,
    wait_for_captures,
)
from tests.standin import ClaudeCodeResponder, Recorded, Reply, StandIn

PROMPT = "Read notes.txt, then fix the river's direction in it"
NOTES = "The blue heron nests by the old mill.\nThe river runs north.\n"
OLD_LINE = "The river runs north."
NEW_LINE = "The river runs south, past the mill."
FINAL_TEXT = "**SUMMARY**: the heron nests by the old mill; the river now runs *south*."
MAIN_USAGE = (
    {
        "input_tokens": 1101,
        "cache_creation_input_tokens": 2202,
        "cache_read_input_tokens": 30303,
        "output_tokens": 44,
    },
    {
        "input_tokens": 1105,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 32405,
        "output_tokens": 55,
    },
    {
        "input_tokens": 1107,
        "cache_creation_input_tokens": 309,
        "cache_read_input_tokens": 33007,
        "output_tokens": 66,
    },
)
"""The usage of the three main-loop answers: the Read, the Edit, the final text."""
TOKEN_ATTRIBUTES = {
    "input_tokens": "data-input-tokens",
    "cache_creation_input_tokens": "data-cache-creation-input-tokens",
    "cache_read_input_tokens": "data-cache-read-input-tokens",
    "output_tokens": "data-output-tokens",
}
"""Usage keys -> the data attributes the viewer's pages carry them in (turns, sessions, totals)."""


def tool_results(body: Any) -> int:
    """How many tool_result blocks the conversation of a request body holds."""
    messages = body.get("messages") if isinstance(body, dict) else None
    return sum(
        1
        for m in messages or []
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    )


class ReadEditResponder:
    """Drives the real Claude Code CLI through a Read, an Edit of the file read and a final text.

    Side calls (no ``tools``) get the stand-in's usual short JSON text. A main-loop request
    is answered by how many tool results its conversation holds: none, a Read of
    `path`; one, an Edit of it; more, :data:`FINAL_TEXT`. Each of the three carries its own
    :data:`MAIN_USAGE`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if not body.get("tools"):
            return Reply.text(ClaudeCodeResponder.SIDE_TEXT)
        done = tool_results(body)
        with self._lock:
            tool_id = f"toolu_browser_{next(self._ids):06d}"
        if done == 0:
            return Reply.tool_use(
                "Read", {"file_path": str(self.path)}, tool_id=tool_id, usage=MAIN_USAGE[0]
            )
        if done == 1:
            edit = {"file_path": str(self.path), "old_string": OLD_LINE, "new_string": NEW_LINE}
            return Reply.tool_use("Edit", edit, tool_id=tool_id, usage=MAIN_USAGE[1])
        return Reply.text(FINAL_TEXT, usage=MAIN_USAGE[2])


@dataclass(frozen=True, kw_only=True)
class CliSession:
    """A finished real-CLI session's captures (`captures`) and what it was made of."""

    captures: Path
    project: Path
    notes: Path
    confdir: Path

    def records(self) -> list[dict[str, Any]]:
        return [load_capture(p) for p in capture_files(self.captures)]


def record_cli_session(folder: Path) -> CliSession:
    """Run the real Claude Code CLI through the real proxy into `folder`/captures."""
    claude = require_claude()
    project = folder / "project"
    project.mkdir()
    notes = project / "notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    home = folder / "home"
    home.mkdir()
    captures, confdir = folder / "captures", folder / "mitmproxy-conf"
    env = env_without(
        "ANTHROPIC_",
        "CLAUDE_",
        HOME=str(home),
        ANTHROPIC_API_KEY=API_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    with (
        StandIn(ReadEditResponder(notes)) as api,
        CapturingProxy(upstream_port=api.port, capture_dir=captures, confdir=confdir) as proxy,
    ):
        done = make_run_claude(
            proxy.config_path,
            claude=claude,
            project=project,
            env=env,
            args=f'-p "{PROMPT}" --allowedTools Read,Edit --permission-mode acceptEdits',
        )
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert "SUMMARY" in done.stdout, done.stdout
        wait_for_captures(captures, len(api.message_requests))
    assert notes.read_text(encoding="utf-8") == NOTES.replace(OLD_LINE, NEW_LINE)
    return CliSession(captures=captures, project=project, notes=notes, confdir=confdir)


def send_through_proxy(proxy: CapturingProxy, body: dict[str, Any], *, session: str) -> None:
    """One Messages request through `proxy` with the anthropic SDK, in conversation `session`."""
    client = sdk_client(proxy)
    try:
        client.messages.create(**body, extra_headers={"X-Claude-Code-Session-Id": session})
    finally:
        client.close()


_URL_LINE = re.compile(r"Glass viewer: (http://127\.0\.0\.1:\d+)/")


class ViewerServer:
    """`python -m view --config <config> serve --port 0` as a subprocess; `url` once it serves."""

    def __init__(self, config: Path, *, start_timeout: float = 60.0) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.url = ""
        self._log = Path(tempfile.mkstemp(prefix="glass-view-", suffix=".log")[1])
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ViewerServer:
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "view",
                    "--config",
                    str(self.config),
                    "serve",
                    "--port",
                    "0",
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**env_without(), "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + self.start_timeout
        while not (found := _URL_LINE.search(self.output())):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.__exit__()
                raise RuntimeError(f"the viewer did not start:\n{output}")
            time.sleep(0.05)
        self.url = found.group(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # its Ctrl-C: serve_forever returns
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        print(f"--- output of the viewer ---\n{self.output()}")
        self._log.unlink(missing_ok=True)

    def output(self) -> str:
        try:
            return self._log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def write_config(folder: Path, *, captures: Path) -> Path:
    """A config.yaml for the viewer and the usage report over `captures` (state in `folder`)."""
    path = folder / "config.yaml"
    path.write_text(
        f"capture:\n  dir: {json.dumps(str(captures))}\n"
        f"analyze:\n  state_dir: {json.dumps(str(folder / 'analyzer-state'))}\n"
        f"  store: {json.dumps(str(folder / 'memories.jsonl'))}\n"
        f"view:\n  state_dir: {json.dumps(str(folder / 'view-state'))}\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path
