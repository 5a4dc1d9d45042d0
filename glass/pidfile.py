"""Which background processes are Glass's: the services, their pid files and logs by
name, the lock, and the check of a pid file against the live processes.

Files, all in the analyzer's state folder (`analyze.state_dir`, 0700):

    proxy.pid, analyzer.pid   JSON: pid, starttime, config, port, started, logger_pid (0600)
    proxy.log, analyzer.log   their output, rotated by size by `glass.logpipe` (.1 … .3)
    services.lock             an fcntl lock, held while a pid file is checked and a process started

Is the process a pid file names still ours? It is alive (not a zombie), its start time
(/proc/<pid>/stat, in clock ticks since boot) is the one recorded when it was started, so
a pid reused after a reboot or a kill -9 is not mistaken for it, and its command line
names the service (`mitmdump`/`mitmweb`/`capture` for the proxy, `analyze` for the
analyzer). Anything else is stale (dead) or foreign (another program): one line says so,
the pid file goes, and the other program is never signalled. Without /proc (macOS) the
command line comes from `ps` and the start time is not compared.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

LOCK_FILE = "services.lock"
LOCK_WAIT_S = 120.0


class ProcError(Exception):
    """A one-line (or one line plus a log tail) reason why a process cannot be started."""


@dataclass(frozen=True, kw_only=True)
class Service:
    name: str
    markers: tuple[str, ...]
    """One of these is in the command line of a process of this service."""


PROXY = Service(name="proxy", markers=("mitmdump", "mitmweb", "capture"))
ANALYZER = Service(name="analyzer", markers=("analyze",))
SERVICES = (PROXY, ANALYZER)


def pid_path(state_dir: Path, service: Service) -> Path:
    return state_dir / f"{service.name}.pid"


def log_path(state_dir: Path, service: Service) -> Path:
    return state_dir / f"{service.name}.log"


@dataclass(frozen=True, kw_only=True)
class PidRecord:
    pid: int
    starttime: int | None
    config: str
    """The config file, absolute ("" for the built-in defaults)."""
    port: int | None
    started: float
    logger_pid: int | None = None


class State(Enum):
    NONE = "not running"
    RUNNING = "running"
    STALE = "stale"
    FOREIGN = "foreign"


@dataclass(frozen=True, kw_only=True)
class Found:
    service: Service
    path: Path
    state: State
    record: PidRecord | None = None
    note: str = ""
    """For STALE and FOREIGN: the one line that says what was found."""


# -- /proc ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, starttime) from /proc/<pid>/stat; None without /proc or the process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name in (…) may hold spaces
    return fields[0], int(fields[19])


def starttime(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    stat = _stat(pid)
    return stat is None or stat[0] != "Z"


def cmdline(pid: int) -> str:
    """The command line of `pid`, arguments joined by spaces ("" when it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        pass
    except OSError:
        return ""
    if Path("/proc/self").exists():
        return ""  # Linux, and the process is gone
    done = subprocess.run(  # macOS: no /proc
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def is_ours(record: PidRecord, service: Service) -> bool:
    if not alive(record.pid):
        return False
    if record.starttime is not None and starttime(record.pid) not in (None, record.starttime):
        return False
    return any(m in cmdline(record.pid) for m in service.markers)


# -- pid files -----------------------------------------------------------------------------


def write_pid(path: Path, record: PidRecord) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(record), f)
        f.write("\n")
    os.replace(tmp, path)


def _read_pid(path: Path) -> PidRecord:
    """The record in `path`; ValueError (with a reason) when it is not one."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or data["pid"] < 1:
        raise ValueError("no pid in it")
    return PidRecord(
        pid=data["pid"],
        starttime=data.get("starttime") if isinstance(data.get("starttime"), int) else None,
        config=str(data.get("config", "")),
        port=data.get("port") if isinstance(data.get("port"), int) else None,
        started=float(data.get("started", 0.0)),
        logger_pid=data.get("logger_pid") if isinstance(data.get("logger_pid"), int) else None,
    )


def inspect(state_dir: Path, service: Service) -> Found:
    """What `service`'s pid file in `state_dir` says, checked against the live processes."""
    path = pid_path(state_dir, service)
    try:
        record = _read_pid(path)
    except FileNotFoundError:
        return Found(service=service, path=path, state=State.NONE)
    except (OSError, ValueError, TypeError) as e:
        note = f"{path}: not a Glass pid file ({e})"
        return Found(service=service, path=path, state=State.STALE, note=note)
    if is_ours(record, service):
        return Found(service=service, path=path, state=State.RUNNING, record=record)
    if not alive(record.pid):
        note = f"{path}: stale pid file (pid {record.pid} is not running; a reboot or a kill -9?)"
        return Found(service=service, path=path, state=State.STALE, record=record, note=note)
    other = cmdline(record.pid) or "unknown"
    note = f"{path}: pid {record.pid} is another program now ({other[:60]}), left alone"
    return Found(service=service, path=path, state=State.FOREIGN, record=record, note=note)


def clear(found: Found) -> str:
    """Remove a pid file that names no process of ours; the line that says so."""
    found.path.unlink(missing_ok=True)
    return f"{found.note}; pid file removed"


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold `state_dir/services.lock` (waits for another `make up` or run-claude, bounded)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ProcError(
                        f"{path} stayed locked for {LOCK_WAIT_S:.0f} s by another Glass start"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock
