"""End to end, real processes: `make run-claude` bringing the proxy up itself for the real
Claude Code CLI and reusing it, and `make up` / `make down` running the proxy and the
analyzer in the background, with a capture made in between analysed.

    make run-claude --> (no proxy answers) python -m capture proxy, detached --> stand-in
    make up --> proxy + python -m analyze (watch), detached --> stand-in (the extraction model)

Every test leaves no process behind (`python -m services down` in a finalizer, then
SIGKILL to what a pid file still names) and never touches ~/.mitmproxy or captures/.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from glass import pidfile
from glass.config import load_config
from glass.procs import CA_FILE
from tests.analyzer_harness import MemoryModel, wait_until
from tests.analyzer_harness import status as analyzer_status
from tests.e2e.test_analyze_e2e import MODEL, SESSION, SYSTEM, TOOLS, USER_1
from tests.proxy import (
    API_KEY,
    capture_files,
    claude_env,
    free_port,
    load_capture,
    require_claude,
    sdk_client,
    wait_for_captures,
)
from tests.services.helpers import (
    clean_env,
    make,
    mitm_args,
    ours,
    pid_of,
    shut_down,
    state_dir,
    write_config,
)
from tests.standin import NOTES_PROMPT, NOTES_SUMMARY, StandIn, notes_task

pytestmark = pytest.mark.e2e


@pytest.fixture
def teardown() -> Iterator[list[Path]]:
    """Configs whose background processes are stopped at the end of the test."""
    configs: list[Path] = []
    yield configs
    for config in configs:
        shut_down(config)


def our_processes(needle: str) -> list[int]:
    """Live processes whose command line holds `needle`."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if needle in pidfile.cmdline(pid) and pidfile.alive(pid)]


def test_run_claude_starts_the_proxy_and_the_next_session_reuses_it(
    standin, confdir, tmp_path, teardown
):
    claude = require_claude()
    config = write_config(tmp_path, port=free_port(), confdir=confdir)
    teardown.append(config)
    task = notes_task(tmp_path)
    project, final_text = task.project, NOTES_SUMMARY
    standin.responder = task.responder
    env = claude_env(task.home, "GLASS_")
    variables = (
        f"CLAUDE={claude}",
        f"DIR={project}",
        f"MITM_ARGS={mitm_args(standin.port)}",
        f'ARGS=-p "{NOTES_PROMPT}" --allowedTools Read',
    )

    first = make("run-claude", config, *variables, env=env)
    assert first.returncode == 0, f"stdout:\n{first.stdout}\nstderr:\n{first.stderr}"
    assert final_text in first.stdout
    log = pidfile.log_path(state_dir(config), pidfile.PROXY)
    said = [ln for ln in first.stderr.splitlines() if "started the proxy" in ln]
    assert len(said) == 1 and str(log) in said[0], first.stderr
    pid = pid_of(config, pidfile.PROXY)
    assert pid and pidfile.alive(pid), "the proxy stays up after Claude Code exited"
    pid_file = pidfile.pid_path(state_dir(config), pidfile.PROXY)
    assert pid_file.stat().st_mode & 0o777 == 0o600
    captured = wait_for_captures(tmp_path / "captures", len(standin.message_requests))
    records = [load_capture(p) for p in captured]
    assert any(
        b.get("text") == final_text
        for r in records
        for b in ((r.get("response") or {}).get("body") or {}).get("content", [])
    ), "the real Claude Code session went through the proxy run-claude started"

    second = make("run-claude", config, *variables, env=env)
    assert second.returncode == 0, f"stdout:\n{second.stdout}\nstderr:\n{second.stderr}"
    assert final_text in second.stdout
    assert "started the proxy" not in second.stderr
    assert pid_of(config, pidfile.PROXY) == pid
    assert len(capture_files(tmp_path / "captures")) > len(captured)

    down = make("down", config, env=env)
    assert down.returncode == 0, down.stderr
    assert f"proxy: stopped (pid {pid})" in down.stdout
    assert not pidfile.alive(pid)
    assert not pid_file.exists()


def test_up_twice_starts_one_of_each_and_down_leaves_nothing(standin, confdir, tmp_path, teardown):
    memories = MemoryModel()
    with StandIn(memories) as model:
        config = write_config(tmp_path, port=free_port(), confdir=confdir, base_url=model.url)
        teardown.append(config)
        env = clean_env(ANTHROPIC_API_KEY=API_KEY)
        captures = tmp_path / "captures"
        up_args = (f"MITM_ARGS={mitm_args(standin.port)}",)

        first = make("up", config, *up_args, env=env)
        assert first.returncode == 0, f"stdout:\n{first.stdout}\nstderr:\n{first.stderr}"
        proxy, analyzer = pid_of(config, pidfile.PROXY), pid_of(config, pidfile.ANALYZER)
        assert proxy and analyzer
        second = make("up", config, *up_args, env=env)
        assert second.returncode == 0, f"stdout:\n{second.stdout}\nstderr:\n{second.stderr}"
        assert second.stdout.count("already running") == 2, ours(second)
        assert (pid_of(config, pidfile.PROXY), pid_of(config, pidfile.ANALYZER)) == (
            proxy,
            analyzer,
        )
        assert our_processes(f"capture_dir={captures}") == [proxy]
        assert our_processes(f"analyze --config {config}") == [analyzer]

        shown = make("status", config, env=env)
        assert shown.returncode == 0, shown.stderr
        assert f"proxy:    running, pid {proxy}" in shown.stdout
        assert f"analyzer: running, pid {analyzer}" in shown.stdout
        assert "pending" in shown.stdout, "the analyzer's figures follow"

        port = load_config(config).capture.listen_port
        # sdk_client reads only these two attributes of a CapturingProxy
        running = types.SimpleNamespace(url=f"http://127.0.0.1:{port}", ca_path=confdir / CA_FILE)
        client = sdk_client(running)
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            system=SYSTEM,
            tools=TOOLS,
            messages=[{"role": "user", "content": USER_1}],
            extra_headers={"X-Claude-Code-Session-Id": SESSION},
        )
        assert wait_for_captures(captures, 1)
        wait_until(
            lambda: analyzer_status(config)["processed"] >= 1,
            timeout=60,
            message=lambda: (state_dir(config) / "analyzer.log").read_text(),
        )
        assert memories.answered, "the analyzer called the extraction stand-in"
        assert USER_1 in json.dumps(memories.answered[0].body, ensure_ascii=False)

        down = make("down", config, env=env)
        assert down.returncode == 0, down.stderr
        assert f"analyzer: stopped (pid {analyzer})" in down.stdout
        assert f"proxy: stopped (pid {proxy})" in down.stdout
        assert not pidfile.alive(proxy) and not pidfile.alive(analyzer)
        assert not list(state_dir(config).glob("*.pid"))
        assert our_processes(f"capture_dir={captures}") == []
        assert our_processes(f"analyze --config {config}") == []
        assert our_processes(f"glass.logpipe {state_dir(config)}") == []
