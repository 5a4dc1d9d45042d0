"""Starting and stopping Glass's background processes, and the proxy start that
`make run-claude` (capture/__main__.py) and `make up` (services/) share.

`spawn()` starts a command detached (its own session, stdin /dev/null) with its output
piped into `glass.logpipe` (the size-rotated log) and writes its pid file
(`glass.pidfile`); `wait_ready()` waits for its ready line, or reports its death with the
last lines of its log; `stop()` is SIGTERM, a bounded wait, then SIGKILL to its session.

Is what answers on the proxy port a proxy Glass can use? An HTTP probe: `GET
http://mitm.it/` sent to it as to a proxy is answered by mitmproxy itself (its onboarding
page, no upstream involved); a plain TCP listener or another server does not answer so.
That is how a foreground `make capture` is recognised and used.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from glass.config import Config
from glass.contract import PROXY_READY
from glass.pidfile import (
    PROXY,
    PidRecord,
    ProcError,
    Service,
    State,
    alive,
    clear,
    cmdline,
    inspect,
    locked,
    log_path,
    pid_path,
    starttime,
    write_pid,
)

CA_FILE = "mitmproxy-ca-cert.pem"
"""The CA certificate mitmproxy writes into its confdir on its first start."""
ANALYZER_READY = "watching "
"""What the analyzer's watch mode logs once it watches (analyze/watch.py)."""
START_WAIT_S = 60.0
TAIL_LINES = 15


# -- starting and stopping -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Started:
    record: PidRecord
    process: subprocess.Popen[bytes]
    log: Path
    log_offset: int
    logger: subprocess.Popen[bytes] | None = None
    """The glass.logpipe process writing `log`; it ends once the child's output has ended."""


def spawn(
    service: Service,
    argv: Sequence[str],
    *,
    state_dir: Path,
    config: Path | None,
    port: int | None,
    env: Mapping[str, str],
) -> Started:
    """Start `argv` detached (its own session, stdin /dev/null), its output into the service's
    size-rotated log, and write its pid file."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = log_path(state_dir, service)
    offset = log.stat().st_size if log.exists() else 0
    logger = subprocess.Popen(
        [sys.executable, "-m", "glass.logpipe", str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert logger.stdin is not None  # stdin=PIPE
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=logger.stdin,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as e:
        logger.stdin.close()
        raise ProcError(f"cannot start the {service.name} ({argv[0]}): {e.strerror}") from None
    logger.stdin.close()
    record = PidRecord(
        pid=child.pid,
        starttime=starttime(child.pid),
        config=str(config or ""),
        port=port,
        started=time.time(),
        logger_pid=logger.pid,
    )
    write_pid(pid_path(state_dir, service), record)
    return Started(record=record, process=child, log=log, log_offset=offset, logger=logger)


def _drained(logger: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Wait (bounded) for the logger to write the dead child's last output and end."""
    if logger is None:
        return
    try:
        logger.wait(timeout)
    except subprocess.TimeoutExpired:
        pass  # the log then ends where it had got to; the error still names it


def log_since(log: Path, offset: int) -> str:
    try:
        with open(log, "rb") as f:
            if f.seek(0, os.SEEK_END) >= offset:
                f.seek(offset)
            else:
                f.seek(0)  # rotated meanwhile
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def wait_ready(
    started: Started,
    service: Service,
    *,
    ready: Callable[[str], bool],
    timeout: float = START_WAIT_S,
) -> None:
    """Wait until `ready(output so far)`; a process that dies or never gets ready is a ProcError
    with the last lines of its log (one that never gets ready is stopped first)."""
    deadline = time.monotonic() + timeout
    while True:
        code = started.process.poll()
        if code is not None:
            _drained(started.logger)
            pid_path(started.log.parent, service).unlink(missing_ok=True)
            out = log_since(started.log, started.log_offset)
            raise ProcError(
                f"the {service.name} exited with code {code} while starting; "
                f"the last lines of {started.log}:\n{tail(out)}"
            )
        if ready(log_since(started.log, started.log_offset)):
            return
        if time.monotonic() > deadline:
            stop(started.record, service, state_dir=started.log.parent, timeout=10)
            out = log_since(started.log, started.log_offset)
            raise ProcError(
                f"the {service.name} was not ready after {timeout:.0f} s and was stopped; "
                f"the last lines of {started.log}:\n{tail(out)}"
            )
        time.sleep(0.1)


def stop(record: PidRecord, service: Service, *, state_dir: Path, timeout: float) -> str:
    """SIGTERM, up to `timeout` s for it to finish (the analyzer ends its batch in flight),
    then SIGKILL to its process group; the pid file goes. Returns the line to say."""
    how = "stopped"
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _gone(record.pid, timeout):
        how = f"killed (still running {timeout:.0f} s after SIGTERM)"
        try:
            os.killpg(record.pid, signal.SIGKILL)  # its session: it and its children
        except ProcessLookupError:
            pass
        _gone(record.pid, 5.0)
    logger = record.logger_pid
    if logger and not _gone(logger, 3.0) and "glass.logpipe" in cmdline(logger):
        os.kill(logger, signal.SIGKILL)
    pid_path(state_dir, service).unlink(missing_ok=True)
    return f"{service.name}: {how} (pid {record.pid})"


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- the proxy -----------------------------------------------------------------------------


def config_file(config: Config) -> Path | None:
    """The config file, absolute, as the pid files record it (None: the built-in defaults)."""
    return config.path.resolve() if config.path else None


def _config_flag(config: Config) -> list[str]:
    path = config_file(config)
    return [] if path is None else ["--config", str(path)]


def proxy_argv(config: Config, mitm_args: Sequence[str] = ()) -> list[str]:
    """What `make capture` runs, for a proxy in the background."""
    return [sys.executable, "-m", "capture", *_config_flag(config), "proxy", "--", *mitm_args]


def analyzer_argv(config: Config) -> list[str]:
    """What `make analyze` runs (watch mode), for an analyzer in the background."""
    return [sys.executable, "-m", "analyze", *_config_flag(config)]


def proxy_spec(
    config: Config, *, mitm_args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> ProxySpec:
    cfg = config.capture
    return ProxySpec(
        config=config_file(config),
        state_dir=config.analyze.state_path,
        host=cfg.listen_host,
        port=cfg.listen_port,
        ca=cfg.confdir / CA_FILE,
        argv=proxy_argv(config, mitm_args),
        env=dict(os.environ if env is None else env),
    )


def connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((connect_host(host), port), timeout=2):
            return True
    except OSError:
        return False


def is_mitmproxy(host: str, port: int) -> bool:
    """Does a proxy answer a plain-HTTP request for mitm.it as mitmproxy does?

    With `capture.proxyauth` set, mitmproxy answers the unauthenticated probe
    itself with 407 and its own realm instead of the onboarding page."""
    request = b"GET http://mitm.it/ HTTP/1.1\r\nHost: mitm.it\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection((connect_host(host), port), timeout=3) as s:
            s.settimeout(3)
            s.sendall(request)
            data = b""
            while len(data) < 65536 and (chunk := s.recv(65536)):
                data += chunk
    except OSError:
        return False
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    if data.startswith(b"HTTP/1.1 407"):
        return b'proxy-authenticate: basic realm="mitmproxy"' in head
    return data.startswith(b"HTTP/1.1 200") and b"mitmproxy" in data


@dataclass(frozen=True, kw_only=True)
class ProxySpec:
    config: Path | None
    """The config file, absolute: recorded in the pid file."""
    state_dir: Path
    host: str
    port: int
    ca: Path
    argv: list[str]
    env: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class ProxyUp:
    record: PidRecord | None
    """None: a proxy Glass did not start in the background (e.g. `make capture`)."""
    started: bool
    notes: list[str]
    log: Path


def ensure_proxy(spec: ProxySpec) -> ProxyUp:
    """The proxy for `spec`: the running one when there is one, else a new one, ready."""
    with locked(spec.state_dir):
        return ensure_proxy_locked(spec)


def ensure_proxy_locked(spec: ProxySpec) -> ProxyUp:
    """`ensure_proxy` for a caller that holds `locked(spec.state_dir)` already."""
    log = log_path(spec.state_dir, PROXY)
    port_key = f"capture.listen_port in {spec.config or 'config.yaml'}"
    found = inspect(spec.state_dir, PROXY)
    notes: list[str] = []
    if found.state is State.RUNNING:
        record = found.record
        assert record is not None  # RUNNING carries its record
        if record.config != str(spec.config or ""):
            raise ProcError(
                f"a Glass proxy started with another config ({record.config}) runs as pid "
                f"{record.pid}; stop it with `make down CONFIG={record.config}`"
            )
        if record.port != spec.port:
            raise ProcError(
                f"the Glass proxy (pid {record.pid}) listens on port {record.port}, but "
                f"{port_key} is now {spec.port}; `make down` stops it"
            )
        if answers(spec.host, spec.port):
            return ProxyUp(record=record, started=False, notes=notes, log=log)
        raise ProcError(
            f"the Glass proxy (pid {record.pid}) does not answer on port {spec.port}; "
            f"see {log}, `make down` stops it"
        )
    if found.state is not State.NONE:
        notes.append(clear(found))
    if answers(spec.host, spec.port):
        if is_mitmproxy(spec.host, spec.port):
            return ProxyUp(record=None, started=False, notes=notes, log=log)
        raise ProcError(
            f"port {spec.port} is held by another program, not a proxy; stop it or set "
            f"{port_key} to a free port"
        )
    started = spawn(
        PROXY,
        spec.argv,
        state_dir=spec.state_dir,
        config=spec.config,
        port=spec.port,
        env=spec.env,
    )
    wait_ready(
        started,
        PROXY,
        ready=lambda out: (
            PROXY_READY in out and spec.ca.is_file() and answers(spec.host, spec.port)
        ),
    )
    return ProxyUp(record=started.record, started=True, notes=notes, log=log)
