"""What `up`, `down`, `status` and `logs` do, one function each, printing one line per
process (`say`). Every one-line problem (a stale or foreign pid file, a port held by
another program, a process started with another config) comes from `glass.procs`.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from glass import pidfile, procs
from glass.config import Config
from glass.hints import make_command

Say = Callable[[str], None]
STOP_WAIT_S = {pidfile.PROXY.name: 20.0, pidfile.ANALYZER.name: 120.0}
"""How long `down` waits after SIGTERM; the analyzer finishes its batch in flight."""


def up(config: Config, *, mitm_args: str, say: Say) -> None:
    """Start the proxy and the analyzer's watch mode unless they run; idempotent."""
    try:
        split = shlex.split(mitm_args)
    except ValueError as e:
        raise pidfile.ProcError(f"MITM_ARGS: {e}") from None
    state = config.analyze.state_path
    spec = procs.proxy_spec(config, mitm_args=split)
    with pidfile.locked(state):
        proxy = procs.ensure_proxy_locked(spec)
        for note in proxy.notes:
            say(note)
        where = f"port {spec.port}"
        if proxy.record is None:
            say(f"proxy: a proxy Glass did not start answers on {where} (`make capture`?); used")
        else:
            verb = "started" if proxy.started else "already running"
            say(f"proxy: {verb} (pid {proxy.record.pid}, {where}, log {proxy.log})")
        say(_start_analyzer(config))


def _start_analyzer(config: Config) -> str:
    state = config.analyze.state_path
    found = pidfile.inspect(state, pidfile.ANALYZER)
    mine = str(procs.config_file(config) or "")
    lines: list[str] = []
    if found.state is pidfile.State.RUNNING:
        assert found.record is not None  # RUNNING carries its record
        if found.record.config != mine:
            raise pidfile.ProcError(_other_config(found))
        return f"analyzer: already running (pid {found.record.pid})"
    if found.state is not pidfile.State.NONE:
        lines.append(pidfile.clear(found))
    started = procs.spawn(
        pidfile.ANALYZER,
        procs.analyzer_argv(config),
        state_dir=state,
        config=procs.config_file(config),
        port=None,
        env=dict(os.environ),
    )
    procs.wait_ready(started, pidfile.ANALYZER, ready=lambda out: procs.ANALYZER_READY in out)
    lines.append(f"analyzer: started (pid {started.record.pid}, log {started.log})")
    return "\n".join(lines)


def _other_config(found: pidfile.Found) -> str:
    assert found.record is not None  # only for a running process
    other = found.record.config or "config.yaml"
    return (
        f"{found.service.name}: pid {found.record.pid} was started with another config "
        f"({other}); `{make_command('down', config=other)}` stops it"
    )


def down(config: Config, *, say: Say) -> None:
    """Stop what `up` or `run-claude` started with this config: the analyzer, then the proxy."""
    state = config.analyze.state_path
    mine = str(procs.config_file(config) or "")
    problems = []
    with pidfile.locked(state):
        for service in (pidfile.ANALYZER, pidfile.PROXY):
            found = pidfile.inspect(state, service)
            if found.state is pidfile.State.NONE:
                say(f"{service.name}: not running")
            elif found.state is not pidfile.State.RUNNING:
                say(pidfile.clear(found))
            elif found.record is not None and found.record.config != mine:
                problems.append(_other_config(found))
            elif found.record is not None:
                timeout = STOP_WAIT_S[service.name]
                say(procs.stop(found.record, service, state_dir=state, timeout=timeout))
    if problems:
        raise pidfile.ProcError("; ".join(problems))


def status(config: Config, *, say: Say) -> None:
    """One line per process: running (pid, since, port) or not, and what else was found."""
    state = config.analyze.state_path
    cfg = config.capture
    for service in pidfile.SERVICES:
        found = pidfile.inspect(state, service)
        name = f"{service.name}:".ljust(10)
        record = found.record
        if found.state is pidfile.State.RUNNING and record is not None:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
            port = f", port {record.port}" if record.port else ""
            say(f"{name}running, pid {record.pid}, since {since}{port}")
            continue
        line = "not running"
        if service is pidfile.PROXY and procs.answers(cfg.listen_host, cfg.listen_port):
            mitm = procs.is_mitmproxy(cfg.listen_host, cfg.listen_port)
            what = "a mitmproxy (`make capture`?)" if mitm else "another program"
            line = f"not started by Glass; {what} answers on port {cfg.listen_port}"
        if found.note:
            line += f"; {found.note} (`make down` removes it)"
        say(name + line)


def log_files(config: Config) -> list[Path]:
    state = config.analyze.state_path
    return [pidfile.log_path(state, service) for service in pidfile.SERVICES]
