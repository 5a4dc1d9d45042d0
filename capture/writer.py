"""The capture writer: a child process that turns exchange snapshots into files.

The proxy process only pickles snapshots onto a pipe, never waiting for it:
what the pipe cannot take at once is handed to mitmproxy's event loop.
Decoding, JSON parsing, pretty-printing, stream reassembly and fsync all
happen in the child, which runs at a lower CPU priority. Capturing thus
takes no time from mitmproxy's event loop or its GIL, and when CPU is short
the user's traffic goes first while the writer catches up.

Parent -> child (stdin): length-prefixed pickles of WriteRequest, WriteEnd, Flush.
Child -> parent (stdout): text lines, each written at once (unbuffered)
    done <n>                the child has handled its first n messages (after every batch)
    ack <token>             every message before Flush(token) has been handled
    path <xid> <path>       exchange <xid>'s file may appear under <path> (said just before)
    log <LEVEL> <message>   for the parent to log through mitmproxy

A child that fell behind reads the messages waiting in the pipe as one batch,
and writes an exchange that has already ended once, complete; after a request
it waits up to LINGER for more, so a fast exchange is written once too. A
batch's new files share one folder fsync. It reads the
pipe with os.read on the raw fd, so select() sees exactly what is still unread.

A child that dies (even SIGKILLed mid-write) loses nothing: the parent keeps
every message the child has not confirmed (`done`), and every request whose
end is not confirmed. It reads the dead child's last answers, starts a new
child and gives it those messages again, each end with its request and the
path the dead child announced. Writing them again is idempotent: the new
child finishes a file the dead one began (the path, checked to hold this very
request) instead of making a second one, and an end is an `os.replace`.

Where: `WriterCore` (what the child does with a batch), `file_bytes` (the one
serializer of a capture file, also used by tests/corpus.py and the benchmarks),
`Writer` (what the addon holds: `WriterProcess`, the child's handle, or
`WriterThread`, the same core on a thread for frozen mitmproxy binaries).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from capture import files, record

logger = logging.getLogger("glass.capture")

NICE = 19
"""The child's CPU niceness where SCHED_IDLE is not available."""
PIPE_BYTES = 1024 * 1024
"""Pipe capacity asked for (Linux), so bursts rarely wait for the event loop."""
MAX_BACKLOG_BYTES = 256 * 1024 * 1024
"""Beyond this much unsent data, request-only writes are skipped (final writes still happen)."""
BATCH = 256
LINGER = 0.05
"""Seconds the child waits, after a batch that holds a request without its end, for more
messages: an exchange that ends within it (most non-streamed replies) is written once,
complete, instead of as a request-only file rewritten at once."""
_HEADER = struct.Struct("!I")


# -- messages ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteRequest:
    xid: int
    request: record.RequestSnapshot
    endpoint: str
    path: str | None = None
    """Where an earlier child may have written it already (sent again after a restart)."""


@dataclass(frozen=True, slots=True)
class WriteEnd:
    xid: int
    response: record.ResponseSnapshot | None
    error: str | None
    resend: WriteRequest | None = None
    """The request again, for a child that has not seen it (after a restart)."""
    path: str | None = None
    """Where an earlier child may have written the request (checked before it is used)."""


@dataclass(frozen=True, slots=True)
class Flush:
    token: int


Message = WriteRequest | WriteEnd | Flush
"""What the proxy hands a writer."""


# -- the child -------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    request: WriteRequest
    written: bytes
    """The request's record, serialized (the bulk of the file)."""
    path: Path | None = None
    number: int | None = None
    """The day's number taken for a file written only at the end."""


class WriterCore:
    """What the child does with a batch of messages (also used in-process by tests)."""

    def __init__(self, root: Path, emit: Callable[[str, str], None]) -> None:
        self.folder = files.CaptureFolder(root)
        self.open: dict[int, _Open] = {}
        self.emit = emit

    def process(self, batch: Sequence[Message]) -> None:
        ending = {m.xid for m in batch if isinstance(m, WriteEnd)}
        for message in batch:
            try:
                match message:
                    case WriteRequest():
                        self._write_request(message, ends_now=message.xid in ending)
                    case WriteEnd():
                        self._write_end(message)
                    case Flush():
                        self.folder.sync_dirs()
                        self.emit("ack", str(message.token))
            except OSError as e:
                self.emit("log", f"ERROR could not write capture file: {e}")
            except Exception as e:  # noqa: BLE001 - a bug in one exchange must not stop the writer
                self.emit(
                    "log",
                    "ERROR bug while writing a capture file (traffic is unaffected): "
                    f"{type(e).__name__}: {e} (traceback: {_one_line_traceback(e)})",
                )
        self.folder.sync_dirs()  # one folder fsync for the batch's new files, before `done`

    def _write_request(self, m: WriteRequest, *, ends_now: bool) -> None:
        state = self.open[m.xid] = self._begin(m, path=m.path)
        if state.path is not None:  # an earlier child wrote it
            return
        if ends_now:  # written once, at its end, under the number its turn gives it now
            state.number = self.folder.reserve(_local(m))
            return
        state.path = self._create(m, state.written)

    def _write_end(self, m: WriteEnd) -> None:
        state = self.open.pop(m.xid, None)
        if state is None:  # a restarted child: the parent sent the request again
            if m.resend is None:
                raise RuntimeError(f"the end of exchange {m.xid} came without its request")
            state = self._begin(m.resend, path=m.path)
        data = file_bytes(
            state.request.request, response=m.response, error=m.error, written=state.written
        )
        if state.path is None:
            state.path = self._create(state.request, data, number=state.number)
        else:
            self.folder.replace(state.path, data)

    @staticmethod
    def _begin(m: WriteRequest, *, path: str | None) -> _Open:
        """An exchange new to this child; `path`: where an earlier child may have put its file."""
        state = _Open(m, written=files.dumps(record.request_record(m.request)))
        if path is not None and _holds(Path(path), state.written):
            state.path = Path(path)
        return state

    def _create(self, m: WriteRequest, data: bytes, *, number: int | None = None) -> Path:
        """A new file for `m`; every name it may take is announced before (see the module doc)."""
        return self.folder.create(
            _local(m),
            m.endpoint,
            data,
            number=number,
            on_claim=lambda path: self.emit("path", f"{m.xid} {path}"),
            sync_dir=False,
        )


def _holds(path: Path, written: bytes) -> bool:
    """Whether the capture file at `path` is of the request serialized as `written`: its
    request part is these very bytes (the request-only file, or the final one, see `dumps_more`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(written) + 1)
    except FileNotFoundError:
        return False
    return head == written or head.startswith(written[: -len(b"\n}\n")] + b",\n")


def file_bytes(
    request: record.RequestSnapshot,
    *,
    response: record.ResponseSnapshot | None,
    error: str | None,
    written: bytes | None = None,
) -> bytes:
    """A capture file's final content: the request's record (`written`, if serialized
    already) with the `response` and `error` the exchange ended with appended."""
    if written is None:
        written = files.dumps(record.request_record(request))
    extra: dict[str, Any] = {}
    if response is not None:
        extra["response"] = record.response_record(response)
    if error is not None:
        extra["error"] = record.error_record(error)
    return files.dumps_more(written, extra)


def _one_line_traceback(e: BaseException) -> str:
    """Where `e` was raised, innermost frame first, on one line (the answers are lines)."""
    frames = traceback.extract_tb(e.__traceback__)
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def _local(m: WriteRequest) -> datetime:
    return datetime.fromtimestamp(m.request.started)


def _awaits_end(batch: Sequence[Message]) -> bool:
    """Whether `batch` holds a request whose end is not in it."""
    ended = {m.xid for m in batch if isinstance(m, WriteEnd)}
    return any(isinstance(m, WriteRequest) and m.xid not in ended for m in batch)


def child_main(root: str) -> int:
    """Handle messages from stdin until it closes; answer on stdout.

    Ctrl-C in the proxy's terminal is not for the writer: it stops when the
    proxy closes its stdin, after writing everything queued.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.fileno()

    def emit(kind: str, text: str) -> None:
        # At once: a `path` line must be in the pipe before the file may appear.
        line = f"{kind} {text.replace(chr(10), ' ')}\n".encode("utf-8", "replace")
        view = memoryview(line)
        while view:
            view = view[os.write(out, view) :]

    core = WriterCore(Path(root), emit)
    frames = FrameReader(sys.stdin.fileno())
    handled = 0
    while batch := frames.batch(BATCH):
        deadline = time.monotonic() + LINGER
        while len(batch) < BATCH and _awaits_end(batch):
            left = deadline - time.monotonic()
            more = frames.batch(BATCH - len(batch), timeout=left) if left > 0 else []
            if not more:
                break
            batch += more
        core.process(batch)
        handled += len(batch)
        emit("done", str(handled))
    return 0


class FrameReader:
    """The length-prefixed pickles coming down a pipe, read with os.read on its raw fd.

    No buffered reader: what one has read ahead is invisible to select(), so a
    batch would end while complete messages still wait in its buffer.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = bytearray()
        self._pos = 0
        self._eof = False

    def batch(self, limit: int, *, timeout: float | None = None) -> list[Message]:
        """The next message (waiting for it, at most `timeout` seconds if given), then every
        one that has arrived whole, up to `limit` in all; [] once the pipe is closed (a cut
        last message is dropped) or on timeout."""
        out: list[Message] = []
        while len(out) < limit:
            message = self._next()
            if message is not None:
                out.append(message)
            elif not self._fill(timeout=0.0 if out else timeout):
                break
        return out

    def _next(self) -> Message | None:
        start = self._pos + _HEADER.size
        if len(self._buf) < start:
            return None
        (size,) = _HEADER.unpack_from(self._buf, self._pos)
        if len(self._buf) < start + size:
            return None
        self._pos = start + size
        message: Message = pickle.loads(self._buf[start : self._pos])
        return message

    def _fill(self, *, timeout: float | None) -> bool:
        """Read what the pipe holds, waiting for it at most `timeout` seconds (None: for as
        long as it takes); False if nothing came."""
        if self._eof or not (timeout is None or select.select([self.fd], [], [], timeout)[0]):
            return False
        data = os.read(self.fd, PIPE_BYTES)
        if not data:
            self._eof = True
            return False
        del self._buf[: self._pos]
        self._pos = 0
        self._buf += data
        return True


# -- the parent side -------------------------------------------------------------------

OnPath = Callable[[int, str], None]
"""Told (xid, path) when a writer has put an exchange's request in a file."""

_generations = itertools.count(1)
"""Every writer (process or thread) gets its own number, also across capture_dir changes."""


class Writer(Protocol):
    """What the addon needs of a writer: `WriterProcess`, or `WriterThread` in a frozen binary."""

    root: Path
    """The captures folder it writes into."""
    generation: int
    """This writer's number: another writer has not seen its messages (a child it restarts
    after a crash is given again, by the writer itself, everything it needs)."""

    def ensure_running(self) -> int:
        """Replace a dead child; returns `generation`."""
        ...

    def send(self, message: Message, *, skippable: bool = False) -> bool:
        """Queue a message without waiting; False if it was skipped (writer far behind)."""
        ...

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything sent so far is handled; False on timeout or a dead child."""
        ...

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop."""
        ...


def make_writer(root: Path, *, on_path: OnPath | None = None) -> Writer:
    """A WriterProcess; in a frozen mitmproxy binary (no Python to start), a WriterThread."""
    if getattr(sys, "frozen", False):
        return WriterThread(root, on_path=on_path)
    return WriterProcess(root, on_path=on_path)


class WriterProcess:
    """The proxy's handle on the writer child. `send` never waits for the child.

    It keeps what a new child would need if this one died (see the module doc):
    the messages not confirmed, the requests of the exchanges whose end is not
    confirmed, and the paths announced for them.
    """

    _child: subprocess.Popen[bytes]
    """The child started last (it may have died since; `ensure_running` replaces it)."""
    _stdin: IO[bytes]
    _stdout: IO[bytes]
    _in_fd: int
    _out_fd: int

    def __init__(self, root: Path, *, on_path: OnPath | None = None) -> None:
        self.root = root
        self.on_path = on_path
        self.generation = next(_generations)
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing = self._reading = False
        self._skipped = 0
        self._later: list[Message] = []
        """Messages sent from a running event loop, written by its next turn."""
        self._requests: dict[int, WriteRequest] = {}
        """The requests of the exchanges whose end the child has not confirmed."""
        self._paths: dict[int, str] = {}
        """Where a child announced those exchanges' files."""
        self._start()

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The child process; None once closed."""
        return None if self._closed else self._child

    # -- process lifecycle ------------------------------------------------------

    def _start(self) -> None:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        child = subprocess.Popen(
            [sys.executable, "-m", "capture.writer", str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # the terminal's Ctrl-C goes to the proxy, which then closes us
        )
        if child.stdin is None or child.stdout is None:  # cannot be: both are PIPE
            raise RuntimeError("the capture writer started without its pipes")
        self._child, self._stdin, self._stdout = child, child.stdin, child.stdout
        self._in_fd, self._out_fd = child.stdin.fileno(), child.stdout.fileno()
        lower_priority(child.pid)
        _widen_pipe(self._in_fd)
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        self._out: deque[memoryview] = deque()
        """Frames for this child that the pipe has not taken yet."""
        self._out_bytes = 0
        self._partial = b""
        self._unconfirmed: deque[Message] = deque()
        """Messages given to this child that it has not confirmed (`done`), in order."""
        self._confirmed = 0
        self._given: set[int] = set()
        """The exchanges whose request this child was given and whose end it was not yet."""

    def ensure_running(self) -> int:
        """Start a new child if the last one died; returns this writer's number (which stays)."""
        if not self._closed and self._child.poll() is not None:
            self._restart(f"exit status {self._child.returncode}")
        return self.generation

    def _restart(self, why: str) -> None:
        """Replace the child and give the new one everything the old one did not confirm."""
        self._unwatch()
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        self._drain()
        replay = list(self._unconfirmed)
        logger.error(
            "capture writer stopped (%s); starting a new one%s",
            why,
            f" and giving it the {len(replay)} unconfirmed writes again" if replay else "",
        )
        for pipe in (self._stdin, self._stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self._start()
        ending = {m.xid for m in replay if isinstance(m, WriteEnd)}
        for message in replay:
            if isinstance(message, WriteRequest):
                if message.xid in ending:  # the end carries it
                    continue
                message = dataclasses.replace(message, path=self._paths.get(message.xid))
            self._give(message)
        if self._watch() is not None and self._out:
            self._set_writing(True)

    def _drain(self) -> None:
        """Read the dead child's last answers (what it confirmed, which paths it announced)."""
        while True:
            try:
                data = os.read(self._out_fd, 65536)
            except OSError:
                return
            if not data:
                return
            self._lines(data)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then let the child exit."""
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._unwatch()
            self._closed = True
            self._stdin.close()
            try:
                self._child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._stdout.close()

    # -- sending --------------------------------------------------------------------

    def send(self, message: Message, *, skippable: bool = False) -> bool:
        """Queue a message for the child and return at once; False if it was skipped.

        A dead child is replaced before anything is written to it (once per
        batch of messages).
        """
        if self._closed:
            return False
        if skippable and self._out_bytes > MAX_BACKLOG_BYTES:
            self._skipped += 1
            if self._skipped == 1:
                logger.warning("the capture writer is far behind; skipping request-only writes")
            return False
        loop = self._watch()
        if loop is not None:
            # In mitmproxy's event loop: let the flow go on first, write right after.
            self._later.append(message)
            if len(self._later) == 1:
                loop.call_soon(self._send_later)
            return True
        self.ensure_running()
        self._give(message)
        self._pump(block=True)
        return True

    def _send_later(self) -> None:
        later, self._later = self._later, []
        if self._closed or not later:
            return
        self.ensure_running()
        for message in later:
            self._give(message)
        self._pump(block=False)

    def _give(self, message: Message) -> None:
        """Queue `message` for the current child, the request with an end it has not seen."""
        if isinstance(message, WriteRequest):
            self._requests[message.xid] = message
            self._given.add(message.xid)
        elif isinstance(message, WriteEnd):
            if message.xid not in self._given:  # an earlier child got the request, or none
                message = dataclasses.replace(
                    message,
                    resend=self._requests.get(message.xid) or message.resend,
                    path=self._paths.get(message.xid) or message.path,
                )
            self._given.discard(message.xid)
        self._unconfirmed.append(message)
        frame = _pack(message)
        self._out.append(memoryview(frame))
        self._out_bytes += len(frame)

    def _pump(self, *, block: bool) -> None:
        """Write what the pipe takes; the rest waits for the event loop (or for room, if `block`)."""
        fd = self._in_fd
        while self._out:
            chunk = self._out[0]
            try:
                n = os.write(fd, chunk)
            except BlockingIOError:
                n = 0
            except OSError as e:  # the child is gone
                self._restart(f"{type(e).__name__}: {e}")
                return
            self._out_bytes -= n
            if n == len(chunk):
                self._out.popleft()
                continue
            self._out[0] = chunk[n:]
            if not block:
                self._set_writing(True)
                return
            select.select([self._out_fd], [fd], [], 1.0)
            self._read_output()  # the child may be waiting for us to read
            if self._child.poll() is not None:
                self._restart(f"exit status {self._child.returncode}")
                return
        self._set_writing(False)

    # -- the event loop's part -----------------------------------------------------------

    def _watch(self) -> asyncio.AbstractEventLoop | None:
        """Read the child's answers from the running event loop, if there is one; returns it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if not self._reading or self._loop is not loop:
            self._loop = loop
            loop.add_reader(self._out_fd, self._read_output)
            self._reading = True
        return loop

    def _set_writing(self, on: bool) -> None:
        if on == self._writing or self._loop is None:
            return
        if on:
            self._loop.add_writer(self._in_fd, lambda: self._pump(block=False))
        else:
            self._loop.remove_writer(self._in_fd)
        self._writing = on

    def _unwatch(self) -> None:
        if self._loop is not None and not self._closed:
            if self._writing:
                self._loop.remove_writer(self._in_fd)
            if self._reading:
                self._loop.remove_reader(self._out_fd)
        self._writing = self._reading = False

    # -- answers --------------------------------------------------------------------

    def _read_output(self) -> None:
        while True:
            try:
                data = os.read(self._out_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:  # the child is gone: stop watching (the next write restarts it)
                if self._reading and self._loop is not None:
                    self._loop.remove_reader(self._out_fd)
                    self._reading = False
                return
            self._lines(data)

    def _lines(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._answer(line.decode("utf-8", "replace"))

    def _answer(self, line: str) -> None:
        kind, _, text = line.partition(" ")
        try:
            if kind == "done":
                self._confirm(int(text))
                return
            if kind == "path":
                xid, _, path = text.partition(" ")
                self._paths[int(xid)] = path
            _dispatch(kind, text, ack=_no_ack, on_path=self.on_path)
        except ValueError:
            logger.warning("capture writer said something odd: %r", line[:200])

    def _confirm(self, handled: int) -> None:
        """The child has handled its first `handled` messages: forget what it no longer needs."""
        while self._confirmed < handled and self._unconfirmed:
            message = self._unconfirmed.popleft()
            self._confirmed += 1
            if isinstance(message, WriteEnd):
                self._requests.pop(message.xid, None)
                self._paths.pop(message.xid, None)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until the child has handled everything sent so far (tests, shutdown);
        a child that dies meanwhile is replaced. False on timeout."""
        if self._closed:
            return True
        self._unwatch()  # from here on this method pumps and reads by itself
        self._send_later()
        deadline = time.monotonic() + timeout
        while self._unconfirmed:
            if time.monotonic() > deadline:
                logger.error("the capture writer did not confirm its writes within %.0f s", timeout)
                return False
            if self._child.poll() is not None:
                self._restart(f"exit status {self._child.returncode}")
                self._unwatch()
            self._pump(block=True)
            select.select([self._out_fd], [], [], 0.2)
            self._read_output()
        return True


def _no_ack(token: int) -> None:
    """A WriterProcess sends no Flush (it counts `done`); an `ack` needs nothing done."""


class WriterThread:
    """The same writer on a thread of the proxy process, for frozen mitmproxy binaries."""

    def __init__(self, root: Path, *, on_path: OnPath | None = None) -> None:
        self.root = root
        self.on_path = on_path
        self.generation = next(_generations)
        self._inbox: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        """Messages for the thread; None tells it to stop."""
        self._acked: dict[int, threading.Event] = {}
        self._token = 0
        self._core = WriterCore(root, self._emit)
        self._thread = threading.Thread(target=self._run, name="glass-writer", daemon=True)
        self._thread.start()

    def _emit(self, kind: str, text: str) -> None:
        _dispatch(kind, text, ack=lambda token: self._acked.pop(token).set(), on_path=self.on_path)

    def _run(self) -> None:
        while (message := self._inbox.get()) is not None:
            batch: list[Message | None] = [message]
            while len(batch) < BATCH and not self._inbox.empty():
                batch.append(self._inbox.get())
            stop = batch[-1] is None
            self._core.process([m for m in batch if m is not None])
            if stop:
                return

    def ensure_running(self) -> int:
        return self.generation

    def send(self, message: Message, *, skippable: bool = False) -> bool:
        self._inbox.put(message)
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        self._token += 1
        done = self._acked[self._token] = threading.Event()
        self._inbox.put(Flush(self._token))
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._inbox.put(None)
        self._thread.join(timeout)


def _dispatch(kind: str, text: str, *, ack: Callable[[int], None], on_path: OnPath | None) -> None:
    """Act on one answer of a writer (see the module doc for the three kinds)."""
    if kind == "ack":
        ack(int(text))
    elif kind == "path" and on_path is not None:
        xid, _, path = text.partition(" ")
        on_path(int(xid), path)
    elif kind == "log":
        level, _, message = text.partition(" ")
        logger.log(getattr(logging, level, logging.INFO), "%s", message)


def lower_priority(pid: int) -> None:
    """Let the writer run only on CPU time nobody else wants (Linux SCHED_IDLE), else nice it."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICE)
    except OSError:
        pass


def _widen_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def _pack(message: Message) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


if __name__ == "__main__":
    # Run the imported module's copy, whose classes are the ones the pickles name.
    from capture.writer import child_main as main

    sys.exit(main(sys.argv[1]))
