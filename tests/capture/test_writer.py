"""capture/writer.py: the writer's logic in-process (WriterCore) and the real child process."""

import errno
import json
import time

import pytest

from capture import files, record, writer


def request(xid, body=b'{"model": "m", "messages": []}', started=None):
    snap = record.RequestSnapshot(
        started=started or time.time(),
        method="POST",
        url="https://api.anthropic.com/v1/messages?beta=true",
        headers=(("x-api-key", "sk-ant-secret"),),
        raw=body,
    )
    return writer.WriteRequest(xid=xid, request=snap, endpoint="messages")


def end(xid, **kw):
    snap = record.ResponseSnapshot(
        status=200,
        headers=(("content-type", "application/json"),),
        raw=b'{"id": "msg_%d"}' % xid,
        streamed=False,
        ttfb_ms=1,
        duration_ms=2,
    )
    return writer.WriteEnd(xid=xid, response=snap, error=None, **kw)


@pytest.fixture
def core(tmp_path):
    out = []
    c = writer.WriterCore(tmp_path, lambda kind, text: out.append((kind, text)))
    c.out = out
    return c


def captures(root):
    return sorted(root.rglob("*.json"))


def test_request_then_end_is_written_then_replaced(core, tmp_path):
    core.process([request(1)])
    (path,) = captures(tmp_path)
    assert "response" not in json.loads(path.read_text())
    assert ("path", f"1 {path}") in core.out
    core.process([end(1)])
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}
    assert "sk-ant-secret" not in path.read_text()


def test_a_writer_behind_writes_an_ended_exchange_once(core, tmp_path, monkeypatch):
    replaced = []
    monkeypatch.setattr(core.folder, "replace", lambda path, data: replaced.append(path))
    core.process([request(1), request(2), end(1), writer.Flush(7)])
    assert replaced == []
    one, two = captures(tmp_path)
    assert json.loads(one.read_text())["response"]["body"] == {"id": "msg_1"}
    assert "response" not in json.loads(two.read_text())
    assert core.out[-1] == ("ack", "7")


def test_a_batch_of_new_files_costs_one_folder_fsync(core, tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(files, "fsync_dir", lambda day: synced.append(len(captures(day))))
    core.process([request(1), end(1), request(2), end(2), request(3)])
    assert synced == [3]  # once, after all three names appeared
    core.process([writer.Flush(1)])
    assert synced == [3]  # nothing new to sync


def test_disk_full_is_reported_and_nothing_half_written_stays(core, tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    core.process([request(1), end(1), request(2)])
    assert [t for k, t in core.out if k == "log"] == [
        "ERROR could not write capture file: [Errno 28] No space left on device"
    ] * 2  # 1 is written once
    assert list(tmp_path.rglob("*")) == [] or all(p.is_dir() for p in tmp_path.rglob("*"))
    monkeypatch.undo()  # space again: the exchange still open is written when it ends
    core.process([end(2)])
    (path,) = captures(tmp_path)
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_2"}


def test_a_bug_is_reported_and_the_next_message_is_served(core, tmp_path, monkeypatch):
    monkeypatch.setattr(record, "request_record", lambda snap: 1 / 0)
    core.process([request(1)])
    monkeypatch.undo()
    core.process([request(2)])
    (bug,) = [t for _, t in core.out if "bug while writing a capture file" in t]
    assert "ZeroDivisionError" in bug
    # where it happened, innermost first: the patched lambda, called from the writer
    assert "(traceback: test_writer.py:" in bug and "writer.py:" in bug.split(" <- ", 1)[1]
    assert len(captures(tmp_path)) == 1


def test_a_restarted_child_finishes_the_file_an_earlier_one_began(core, tmp_path):
    earlier = writer.WriterCore(tmp_path, lambda *a: None)
    first = request(1)
    earlier.process([first])
    (path,) = captures(tmp_path)
    core.process([end(1, resend=first, path=str(path))])
    assert captures(tmp_path) == [path]
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}
    core.process([end(1, resend=first, path=str(path))])  # sent again: the same file again
    assert captures(tmp_path) == [path]
    core.process([end(2, resend=request(2))])  # the earlier child never wrote it
    assert len(captures(tmp_path)) == 2


def test_a_replayed_request_adopts_its_file_and_never_takes_anothers(core, tmp_path):
    earlier = writer.WriterCore(tmp_path, lambda *a: None)
    mine, other = request(1, started=1_000.0), request(2, body=b'{"other": 1}', started=1_000.0)
    earlier.process([mine, other])
    path, other_path = captures(tmp_path)
    replayed = writer.WriteRequest(xid=1, request=mine.request, endpoint="messages", path=str(path))
    core.process([replayed, end(1)])  # in one batch: the request is not written again
    assert captures(tmp_path) == [path, other_path]
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}
    # a path announced for a file that turned out to be another exchange's is not used
    core.process([end(3, resend=request(3, started=1_000.0), path=str(other_path))])
    assert len(captures(tmp_path)) == 3
    assert "response" not in json.loads(other_path.read_text())


def test_every_name_is_announced_before_the_file_appears(tmp_path):
    seen = []

    def emit(kind, text):
        if kind == "path":
            xid, _, path = text.partition(" ")
            seen.append((xid, path, (tmp_path / path).exists()))

    writer.WriterCore(tmp_path, emit).process([request(7)])
    ((xid, path, existed),) = seen
    assert xid == "7" and not existed and [str(p) for p in captures(tmp_path)] == [path]


def test_a_batch_takes_every_message_that_has_arrived(tmp_path):
    import os

    read_fd, write_fd = os.pipe()
    try:
        frames = b"".join(writer._pack(request(xid)) for xid in range(1, 101))
        os.write(write_fd, frames)
        reader = writer.FrameReader(read_fd)
        assert [m.xid for m in reader.batch(writer.BATCH)] == list(range(1, 101))
        os.write(write_fd, frames[: len(frames) // 2])  # a cut message stays for the next batch
        os.close(write_fd)
        rest = reader.batch(writer.BATCH)
        assert 0 < len(rest) < 100 and reader.batch(writer.BATCH) == []
    finally:
        os.close(read_fd)


def test_a_batch_waits_for_the_first_message_at_most_its_timeout(tmp_path):
    import os

    read_fd, write_fd = os.pipe()
    try:
        reader = writer.FrameReader(read_fd)
        t0 = time.monotonic()
        assert reader.batch(writer.BATCH, timeout=0.05) == []
        assert 0.05 <= time.monotonic() - t0 < 2
        os.write(write_fd, writer._pack(request(1)))
        assert [m.xid for m in reader.batch(writer.BATCH, timeout=0.05)] == [1]
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_batch_awaits_the_ends_of_its_requests():
    assert writer._awaits_end([request(1)])
    assert writer._awaits_end([request(1), request(2), end(1)])
    assert not writer._awaits_end([request(1), end(1), end(3)])
    assert not writer._awaits_end([])


def _child_answers(tmp_path, frames_and_pauses):
    """Run the real child, feed it frames (a float is a pause), return its answer lines."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "capture.writer", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None
    for item in frames_and_pauses:
        if isinstance(item, float):
            time.sleep(item)
        else:
            proc.stdin.write(writer._pack(item))
            proc.stdin.flush()
    out, _ = proc.communicate(timeout=30)
    return out.decode().splitlines()


def test_the_child_writes_an_exchange_that_ends_soon_once(tmp_path):
    answers = _child_answers(tmp_path, [request(1), writer.LINGER / 5, end(1)])
    dones = [line for line in answers if line.startswith("done ")]
    paths = [line for line in answers if line.startswith("path ")]
    assert dones == ["done 2"] and len(paths) == 1  # one batch, one file, never request-only
    (path,) = captures(tmp_path)
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}


def test_the_child_writes_a_request_whose_end_is_late_at_once(tmp_path):
    answers = _child_answers(tmp_path, [request(1), writer.LINGER * 10, end(1)])
    dones = [line for line in answers if line.startswith("done ")]
    assert dones == ["done 1", "done 2"]  # the request-only file came first
    (path,) = captures(tmp_path)
    assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}


def test_the_child_process_writes_and_confirms(tmp_path):
    paths = {}
    proc = writer.WriterProcess(tmp_path, on_path=lambda xid, path: paths.__setitem__(xid, path))
    try:
        big = json.dumps({"messages": [{"role": "user", "content": "x" * 300_000}]}).encode()
        for xid in range(1, 21):  # more than a pipe holds: send must not deadlock
            proc.send(request(xid, body=big))
            proc.send(end(xid))
        assert proc.flush(timeout=60)
        assert len(captures(tmp_path)) == 20 and len(paths) <= 20
        assert all("response" in json.loads(p.read_text()) for p in captures(tmp_path))
    finally:
        proc.close()
    assert proc.proc is None


def test_close_writes_what_is_still_queued(tmp_path):
    proc = writer.WriterProcess(tmp_path)
    proc.send(request(1))
    proc.send(end(1))
    proc.close()
    (path,) = captures(tmp_path)
    assert "response" in json.loads(path.read_text())


def test_a_dead_child_is_noticed_and_replaced(tmp_path, caplog):
    proc = writer.WriterProcess(tmp_path)
    try:
        first = proc.proc.pid
        proc.send(request(1))
        proc.proc.kill()
        proc.proc.wait()
        assert proc.ensure_running() == proc.generation and proc.proc.pid != first
        assert "capture writer stopped" in caplog.text
        proc.send(end(1))
        assert proc.flush(timeout=30)
        (path,) = captures(tmp_path)  # the request the dead child may not have written, ended
        assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}
    finally:
        proc.close()


def test_ctrl_c_in_the_terminal_does_not_reach_the_writer(tmp_path):
    import os
    import signal

    proc = writer.WriterProcess(tmp_path)
    try:
        assert os.getpgid(proc.proc.pid) != os.getpgid(0)  # not in the terminal's process group
        assert proc.flush(timeout=30)  # the child is up
        os.kill(proc.proc.pid, signal.SIGINT)  # and it ignores a SIGINT sent to it directly
        proc.send(request(1))
        proc.send(end(1))
        assert proc.flush(timeout=30)
        assert proc.proc.poll() is None and len(captures(tmp_path)) == 1
    finally:
        proc.close()


def test_a_dead_child_does_not_keep_the_event_loop_busy(tmp_path):
    import asyncio

    async def scenario():
        proc = writer.WriterProcess(tmp_path)
        first = request(1)
        proc.send(first)  # inside the loop: the child's answers are read by the loop
        assert proc._reading
        for _ in range(500):  # until the child has written it (the loop's next turns)
            if not (proc._later or proc._unconfirmed):
                break
            await asyncio.sleep(0.01)
        proc.proc.kill()
        await asyncio.sleep(0.3)
        assert not proc._reading  # end of file seen: the reader is gone, nothing spins
        proc.send(end(1, resend=first))  # the next write starts a new child
        return proc

    proc = asyncio.run(scenario())
    try:
        assert proc.flush(timeout=30)
        (path,) = captures(tmp_path)
        assert json.loads(path.read_text())["response"]["body"] == {"id": "msg_1"}
    finally:
        proc.close()


def test_frozen_mitmproxy_binaries_get_a_writer_thread(tmp_path, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    paths = {}
    w = writer.make_writer(tmp_path, on_path=lambda xid, path: paths.__setitem__(xid, path))
    assert isinstance(w, writer.WriterThread)
    w.send(request(1))
    assert w.flush(timeout=10)
    w.send(end(1))
    w.close()
    (path,) = captures(tmp_path)
    assert paths == {1: str(path)} and "response" in json.loads(path.read_text())
