"""Shared by the services tests: a config in a temp folder, `python -m services` and `make`
as real processes, and a finalizer that leaves no background process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from glass import pidfile
from tests.proxy import API_URL, ROOT, env_without


def write_config(
    folder: Path,
    *,
    port: int,
    confdir: Path,
    base_url: str | None = None,
) -> Path:
    """A config.yaml in `folder`: captures (and so the state folder) in folder/captures."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "capture:",
        f"  dir: {json.dumps(str(folder / 'captures'))}",
        "  listen_host: 127.0.0.1",
        f"  listen_port: {port}",
        f"  confdir: {json.dumps(str(confdir))}",
    ]
    if base_url:
        lines += [
            "analyze:",
            f"  base_url: {json.dumps(base_url)}",
            "  batch_size: 1",
            "  max_wait_s: 0.2",
        ]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def state_dir(config: Path) -> Path:
    return config.parent / "captures" / ".analyze"


def mitm_args(upstream_port: int) -> str:
    """MITM_ARGS as the e2e proxies use them (tests/proxy.py `CapturingProxy._mitm_args`)."""
    return (
        f"--set connection_strategy=lazy --map-remote '|{API_URL}|http://127.0.0.1:{upstream_port}'"
    )


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without proxy or GLASS_ variables."""
    return env_without("GLASS_", **extra)


def services(config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "services", "--config", str(config), *args],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def make(target: str, config: Path, *variables: str, env: dict[str, str] | None = None):
    return subprocess.run(
        ["make", "--no-print-directory", target, f"CONFIG={config}", *variables],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def ours(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines a command printed, without make's own."""
    text = done.stdout + done.stderr
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("make:", "make["))]


def pid_of(config: Path, service: pidfile.Service) -> int | None:
    path = pidfile.pid_path(state_dir(config), service)
    try:
        return json.loads(path.read_text())["pid"]
    except FileNotFoundError:
        return None


def shut_down(config: Path) -> None:
    """Finalizer: `python -m services down`, then SIGKILL whatever a pid file still names."""
    pids = [pid_of(config, s) for s in pidfile.SERVICES]
    services(config, "down")
    for pid in pids:
        if pid and pidfile.alive(pid):
            os.killpg(pid, signal.SIGKILL)
