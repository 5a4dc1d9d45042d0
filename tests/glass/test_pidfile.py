"""glass/pidfile.py with real processes: pid files checked against /proc, and the lock."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from glass import pidfile


def record_for(pid: int, **kw) -> pidfile.PidRecord:
    values = {
        "starttime": pidfile.starttime(pid),
        "config": "/c.yaml",
        "port": None,
        "started": 0.0,
    }
    values.update(kw)
    return pidfile.PidRecord(pid=pid, **values)


def test_a_pid_file_is_0600_and_reads_back_as_running(tmp_path):
    record = record_for(os.getpid())
    path = pidfile.pid_path(tmp_path, pidfile.Service(name="proxy", markers=("pytest", "python")))
    pidfile.write_pid(path, record)
    assert path.stat().st_mode & 0o777 == 0o600
    found = pidfile.inspect(tmp_path, pidfile.Service(name="proxy", markers=("python",)))
    assert found.state is pidfile.State.RUNNING and found.record == record


def test_a_reused_pid_with_another_start_time_is_foreign(tmp_path):
    other = subprocess.Popen(["sleep", "30"])
    try:
        record = record_for(other.pid, starttime=(pidfile.starttime(other.pid) or 0) - 1)
        pidfile.write_pid(pidfile.pid_path(tmp_path, pidfile.PROXY), record)
        found = pidfile.inspect(tmp_path, pidfile.Service(name="proxy", markers=("sleep",)))
        assert found.state is pidfile.State.FOREIGN, "same pid, another process"
        assert "left alone" in found.note
    finally:
        other.kill()
        other.wait()


def test_garbage_and_dead_pid_files_are_stale(tmp_path):
    path = pidfile.pid_path(tmp_path, pidfile.ANALYZER)
    path.write_text("{not json")
    assert pidfile.inspect(tmp_path, pidfile.ANALYZER).state is pidfile.State.STALE
    done = subprocess.Popen(["true"])
    done.wait()
    pidfile.write_pid(path, record_for(done.pid, starttime=None))
    found = pidfile.inspect(tmp_path, pidfile.ANALYZER)
    assert found.state is pidfile.State.STALE and str(done.pid) in found.note
    assert pidfile.clear(found).endswith("pid file removed") and not path.exists()


def test_the_lock_excludes_a_second_holder(tmp_path):
    entered = []

    def second() -> None:
        with pidfile.locked(tmp_path):
            entered.append(time.monotonic())

    with pidfile.locked(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not entered, "the second holder waits"
        released = time.monotonic()
    thread.join(10)
    assert entered and entered[0] >= released
