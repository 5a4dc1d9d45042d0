"""`python -m services` against stale and foreign state, as real processes: a pid file
naming a dead pid, one naming another live program, a port held by a plain TCP listener."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from glass import procs
from tests.proxy import free_port
from tests.services.helpers import make, ours, services, state_dir, write_config


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_pid(config: Path, service: procs.Service, pid: int) -> Path:
    path = procs.pid_path(state_dir(config), service)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "starttime": procs.starttime(pid), "config": str(config), "port": None}
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, port=free_port(), confdir=tmp_path / "mitm")


def test_a_stale_pid_file_gets_one_line_in_status_and_down(config):
    path = write_pid(config, procs.PROXY, dead_pid())

    shown = services(config, "status")
    assert shown.returncode == 0, shown.stderr
    proxy_lines = [ln for ln in ours(shown) if ln.startswith("proxy:")]
    assert len(proxy_lines) == 1, ours(shown)
    assert "stale pid file" in proxy_lines[0] and str(path) in proxy_lines[0]
    assert path.exists(), "status only looks"

    done = services(config, "down")
    assert done.returncode == 0, done.stderr
    stale = [ln for ln in ours(done) if "stale pid file" in ln]
    assert len(stale) == 1, ours(done)
    assert not path.exists()


def test_a_pid_file_naming_another_program_leaves_it_alone(config):
    other = subprocess.Popen(["sleep", "60"])
    try:
        path = write_pid(config, procs.ANALYZER, other.pid)

        shown = services(config, "status")
        analyzer = [ln for ln in ours(shown) if ln.startswith("analyzer:")]
        assert len(analyzer) == 1 and "another program" in analyzer[0], ours(shown)

        done = services(config, "down")
        assert done.returncode == 0, done.stderr
        lines = [ln for ln in ours(done) if "another program" in ln]
        assert len(lines) == 1 and str(other.pid) in lines[0], ours(done)
        assert other.poll() is None, "the other program is still running"
        assert not path.exists()
    finally:
        other.kill()
        other.wait()


def test_a_port_held_by_a_plain_listener_is_one_line_naming_the_key(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        config = write_config(tmp_path, port=port, confdir=tmp_path / "mitm")

        for done in (services(config, "up"), make("run-claude", config, "CLAUDE=true")):
            assert done.returncode != 0
            lines = ours(done)
            assert len(lines) == 1, lines
            assert f"port {port}" in lines[0] and "capture.listen_port" in lines[0]
        assert not procs.pid_path(state_dir(config), procs.PROXY).exists()
        assert not (tmp_path / "mitm").exists(), "no proxy was started"
