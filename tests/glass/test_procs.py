"""glass/procs.py with real processes and sockets: pid files checked against /proc, the
lock, the mitmproxy probe against a plain listener, a start that dies with its log's tail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from glass import procs


def record_for(pid: int, **kw) -> procs.PidRecord:
    values = {"starttime": procs.starttime(pid), "config": "/c.yaml", "port": None, "started": 0.0}
    values.update(kw)
    return procs.PidRecord(pid=pid, **values)


def test_a_pid_file_is_0600_and_reads_back_as_running(tmp_path):
    record = record_for(os.getpid())
    path = procs.pid_path(tmp_path, procs.Service(name="proxy", markers=("pytest", "python")))
    procs.write_pid(path, record)
    assert path.stat().st_mode & 0o777 == 0o600
    found = procs.inspect(tmp_path, procs.Service(name="proxy", markers=("python",)))
    assert found.state is procs.State.RUNNING and found.record == record


def test_a_reused_pid_with_another_start_time_is_foreign(tmp_path):
    other = subprocess.Popen(["sleep", "30"])
    try:
        record = record_for(other.pid, starttime=(procs.starttime(other.pid) or 0) - 1)
        procs.write_pid(procs.pid_path(tmp_path, procs.PROXY), record)
        found = procs.inspect(tmp_path, procs.Service(name="proxy", markers=("sleep",)))
        assert found.state is procs.State.FOREIGN, "same pid, another process"
        assert "left alone" in found.note
    finally:
        other.kill()
        other.wait()


def test_garbage_and_dead_pid_files_are_stale(tmp_path):
    path = procs.pid_path(tmp_path, procs.ANALYZER)
    path.write_text("{not json")
    assert procs.inspect(tmp_path, procs.ANALYZER).state is procs.State.STALE
    done = subprocess.Popen(["true"])
    done.wait()
    procs.write_pid(path, record_for(done.pid, starttime=None))
    found = procs.inspect(tmp_path, procs.ANALYZER)
    assert found.state is procs.State.STALE and str(done.pid) in found.note
    assert procs.clear(found).endswith("pid file removed") and not path.exists()


def test_the_lock_excludes_a_second_holder(tmp_path):
    entered = []

    def second() -> None:
        with procs.locked(tmp_path):
            entered.append(time.monotonic())

    with procs.locked(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not entered, "the second holder waits"
        released = time.monotonic()
    thread.join(10)
    assert entered and entered[0] >= released


def test_a_plain_listener_answers_but_is_no_mitmproxy():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert procs.answers("127.0.0.1", port)
        assert not procs.is_mitmproxy("127.0.0.1", port)


def test_a_start_that_dies_says_so_with_the_last_lines_of_its_log(tmp_path):
    service = procs.Service(name="proxy", markers=("python",))
    argv = [sys.executable, "-c", "print('first words'); print('the last words'); exit(3)"]
    started = procs.spawn(
        service, argv, state_dir=tmp_path, config=None, port=None, env=dict(os.environ)
    )
    with pytest.raises(procs.ProcError) as e:
        procs.wait_ready(started, service, ready=lambda out: False, timeout=20)
    assert "exited with code 3" in str(e.value)
    assert "the last words" in str(e.value) and str(started.log) in str(e.value)
    assert not procs.pid_path(tmp_path, service).exists()


def test_stop_ends_a_process_that_ignores_sigterm(tmp_path):
    service = procs.Service(name="analyzer", markers=("python",))
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
    assert not procs.pid_path(tmp_path, service).exists()
