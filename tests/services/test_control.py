"""`python -m services` against stale and foreign state, as real processes: a pid file
naming a dead pid, one naming another live program, a port held by a plain TCP listener."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glass import pidfile
from tests.proxy import free_port
from tests.services.helpers import make, ours, services, state_dir, write_config


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_pid(config: Path, service: pidfile.Service, pid: int) -> Path:
    path = pidfile.pid_path(state_dir(config), service)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "starttime": pidfile.starttime(pid), "config": str(config), "port": None}
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, port=free_port(), confdir=tmp_path / "mitm")


def test_a_stale_pid_file_gets_one_line_in_status_and_down(config):
    path = write_pid(config, pidfile.PROXY, dead_pid())

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
        path = write_pid(config, pidfile.ANALYZER, other.pid)

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
        assert not pidfile.pid_path(state_dir(config), pidfile.PROXY).exists()
        assert not (tmp_path / "mitm").exists(), "no proxy was started"


def test_logs_follows_both_logs(config):
    logs = [pidfile.log_path(state_dir(config), s) for s in pidfile.SERVICES]
    logs[0].parent.mkdir(parents=True)
    follower = subprocess.Popen(
        [sys.executable, "-m", "services", "--config", str(config), "logs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        time.sleep(1.0)  # tail -F is following (the files do not exist yet)
        for path in logs:
            path.write_text(f"a line of {path.name}\n")
        assert follower.stdout is not None
        seen = set()
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            line = follower.stdout.readline()
            seen |= {p.name for p in logs if f"a line of {p.name}" in line}
        assert seen == {"proxy.log", "analyzer.log"}
    finally:
        follower.terminate()
        follower.wait(10)


def test_a_proxy_started_with_another_config_is_named_and_left_running(config, tmp_path):
    # A process whose command line names the proxy service, as a proxy's does.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "capture"])
    try:
        path = write_pid(config, pidfile.PROXY, other.pid)
        record = json.loads(path.read_text()) | {"config": str(tmp_path / "other.yaml")}
        path.write_text(json.dumps(record))
        for done in (services(config, "up"), services(config, "down")):
            assert done.returncode == 2
            errors = done.stderr.strip().splitlines()
            assert len(errors) == 1, errors
            assert "another config" in errors[0] and str(tmp_path / "other.yaml") in errors[0]
        assert other.poll() is None, "it was not signalled"
        assert path.exists()
    finally:
        other.kill()
        other.wait()
