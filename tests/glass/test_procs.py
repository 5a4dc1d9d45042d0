"""glass/procs.py with real processes and sockets: the mitmproxy probe against a plain
listener, a start that dies with its log's tail, a stop that has to SIGKILL."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from glass import pidfile, procs


def test_a_plain_listener_answers_but_is_no_mitmproxy():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert procs.answers("127.0.0.1", port)
        assert not procs.is_mitmproxy("127.0.0.1", port)


def test_a_start_that_dies_says_so_with_the_last_lines_of_its_log(tmp_path):
    service = pidfile.Service(name="proxy", markers=("python",))
    argv = [sys.executable, "-c", "print('first words'); print('the last words'); exit(3)"]
    started = procs.spawn(
        service, argv, state_dir=tmp_path, config=None, port=None, env=dict(os.environ)
    )
    with pytest.raises(pidfile.ProcError) as e:
        procs.wait_ready(started, service, ready=lambda out: False, timeout=20)
    assert "exited with code 3" in str(e.value)
    assert "the last words" in str(e.value) and str(started.log) in str(e.value)
    assert not pidfile.pid_path(tmp_path, service).exists()


def test_stop_ends_a_process_that_ignores_sigterm(tmp_path):
    service = pidfile.Service(name="analyzer", markers=("python",))
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up'); time.sleep(60)"
    started = procs.spawn(
        service,
        [sys.executable, "-c", code],
        state_dir=tmp_path,
        config=None,
        port=None,
        env=dict(os.environ),
    )
    procs.wait_ready(started, service, ready=lambda out: "up" in out, timeout=20)
    line = procs.stop(started.record, service, state_dir=tmp_path, timeout=0.5)
    assert line.startswith("analyzer: killed") and str(started.record.pid) in line
    started.process.wait(5)
    assert not pidfile.pid_path(tmp_path, service).exists()
