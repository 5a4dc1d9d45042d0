"""The real capturing proxy as a subprocess, for end-to-end tests and benchmarks.

:class:`CapturingProxy` starts the proxy exactly the way ``make capture`` does
(``python -m capture --config <cfg> proxy -- ...``) from a temporary
config.yaml, redirected to a local upstream (e.g. :class:`tests.standin.StandIn`)
with ``--map-remote``, so clients still ask for ``https://api.anthropic.com``.
With ``addon=False`` it starts plain ``mitmdump`` with the same flags and no
addon (the benchmark baseline)::

    with StandIn() as api, CapturingProxy(upstream_port=api.port,
                                          capture_dir=tmp / "captures",
                                          confdir=tmp / "mitm") as proxy:
        client = sdk_client(proxy)
        client.messages.create(...)
    # leaving the block sends SIGTERM: the addon's `done` flushes every file

Other helpers: :func:`free_port`, :func:`sdk_client` (the anthropic SDK through
the proxy), :func:`find_claude` (the Claude Code CLI the tests drive), and
:func:`capture_files` / :func:`wait_for_captures` / :func:`load_capture` to read
what the proxy wrote.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import pytest

from glass.contract import CAPTURE_NAME, PROXY_READY

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-ant-test-secret"
"""The API key every test client sends; it must never appear in a capture file."""
API_URL = "https://api.anthropic.com"
CA_FILE = "mitmproxy-ca-cert.pem"
READY_LINE = PROXY_READY

__all__ = [
    "API_KEY",
    "API_URL",
    "CapturingProxy",
    "ProxyError",
    "capture_files",
    "find_claude",
    "free_port",
    "in_ci",
    "load_capture",
    "missing_real_part",
    "sdk_client",
    "ssl_context",
    "wait_for_captures",
]


class ProxyError(RuntimeError):
    """The proxy did not start (the message holds its output)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _mitmdump() -> str:
    beside = Path(sys.executable).parent / "mitmdump"
    if beside.exists():
        return str(beside)
    found = shutil.which("mitmdump")
    if not found:
        raise ProxyError("mitmdump is not installed; run `make install`")
    return found


class CapturingProxy:
    """The capturing proxy (or plain mitmdump) as a subprocess; a context manager.

    Attributes: ``port``, ``url`` (``http://127.0.0.1:PORT``), ``ca_path``,
    ``config_path`` (the config.yaml it runs with; written only with ``addon=True``),
    ``capture_dir``, ``confdir``, ``addon``, ``argv``, ``running``.
    ``output()`` returns what the process printed so far (stdout and stderr).
    ``port=`` pins the listening port (default: a free one, retried if taken).
    ``listen_host=`` and ``proxyauth=`` become ``capture.listen_host`` and
    ``capture.proxyauth`` (``--set proxyauth=`` without the addon); the proxy is
    still reached at 127.0.0.1.
    """

    def __init__(
        self,
        *,
        upstream_port: int,
        capture_dir: str | os.PathLike[str],
        confdir: str | os.PathLike[str],
        addon: bool = True,
        extra_args: Sequence[str] = (),
        port: int | None = None,
        start_timeout: float = 30.0,
        listen_host: str = "127.0.0.1",
        proxyauth: str | None = None,
    ) -> None:
        self.upstream_port = upstream_port
        self.capture_dir = Path(capture_dir).absolute()
        self.confdir = Path(confdir).absolute()
        self.addon = addon
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.listen_host = listen_host
        self.proxyauth = proxyauth
        self.ca_path = self.confdir / CA_FILE
        self._requested_port = port
        self.port: int = 0
        self.argv: list[str] = []
        # config.yaml and the output log; kept after stop() (config_path stays
        # usable), removed when the Python process exits.
        self._workdir = Path(tempfile.mkdtemp(prefix="glass-proxy-"))
        atexit.register(shutil.rmtree, self._workdir, True)
        self.config_path = self._workdir / "config.yaml"
        self._log_path = self._workdir / "proxy.log"
        self._log: BinaryIO | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._final_output: str | None = None

    # -- lifecycle -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> CapturingProxy:
        if self._proc is not None:
            return self
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            self.port = self._requested_port or free_port()
            try:
                self._launch()
                return self
            except ProxyError as e:
                self._terminate()
                in_use = "address already in use" in str(e).lower()
                if not in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _mitm_args(self) -> list[str]:
        return [
            "--set",
            "connection_strategy=lazy",
            "--map-remote",
            f"|{API_URL}|http://127.0.0.1:{self.upstream_port}",
            *self.extra_args,
        ]

    def _launch(self) -> None:
        self.confdir.mkdir(parents=True, exist_ok=True)
        if self.addon:
            self.config_path.write_text(
                "capture:\n"
                f"  dir: {json.dumps(str(self.capture_dir))}\n"
                f"  listen_host: {json.dumps(self.listen_host)}\n"
                f"  listen_port: {self.port}\n"
                f"  confdir: {json.dumps(str(self.confdir))}\n"
                + (f"  proxyauth: {json.dumps(self.proxyauth)}\n" if self.proxyauth else ""),
                encoding="utf-8",
            )
            self.config_path.chmod(0o600)  # it may hold the proxy's login
            self.argv = [
                sys.executable,
                "-m",
                "capture",
                "--config",
                str(self.config_path),
                "proxy",
                "--",
                *self._mitm_args(),
            ]
        else:
            self.argv = [
                _mitmdump(),
                "--listen-host",
                self.listen_host,
                "--listen-port",
                str(self.port),
                "--set",
                f"confdir={self.confdir}",
                *(["--set", f"proxyauth={self.proxyauth}"] if self.proxyauth else []),
                *self._mitm_args(),
            ]
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - open for the proxy's life, closed in stop()
        self._proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise ProxyError(
                    f"the proxy exited with code {self._proc.returncode} before it was ready\n"
                    f"command: {self.argv}\noutput:\n{self.output()}"
                )
            if self.ca_path.is_file() and _accepts(self.port) and self._addon_loaded():
                return
            if time.monotonic() > deadline:
                raise ProxyError(
                    f"the proxy was not ready after {self.start_timeout:.0f} s "
                    f"(port {self.port} accepting: {_accepts(self.port)}, "
                    f"CA {self.ca_path} exists: {self.ca_path.is_file()})\n"
                    f"command: {self.argv}\noutput:\n{self.output()}"
                )
            time.sleep(0.05)

    def _addon_loaded(self) -> bool:
        """mitmdump listens before it has loaded its scripts (they load from a
        watcher task), so wait for the addon's "Glass: capturing" line as well."""
        return not self.addon or READY_LINE in self._read_log()

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (mitmproxy runs the addon's `done`, which flushes every file), then kill."""
        code = self._terminate(timeout)
        self._final_output = self._read_log()
        return code

    def _terminate(self, timeout: float = 20.0) -> int | None:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            code = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> CapturingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- output ----------------------------------------------------------------

    def _read_log(self) -> str:
        try:
            return self._log_path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def output(self) -> str:
        """Everything the proxy printed (stdout and stderr), also after `stop()`."""
        if self._proc is None and self._final_output is not None:
            return self._final_output
        return self._read_log()

    def wait_for_output(self, text: str, timeout: float = 10.0) -> bool:
        """Wait until `text` appears in the output (case-insensitive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.lower() in self.output().lower():
                return True
            time.sleep(0.05)
        return text.lower() in self.output().lower()

    def __repr__(self) -> str:
        kind = "capturing" if self.addon else "plain"
        return f"<CapturingProxy {kind} port={self.port} running={self.running}>"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- clients -------------------------------------------------------------------


def ssl_context(proxy: CapturingProxy) -> ssl.SSLContext:
    """A client TLS context that trusts the proxy's CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(proxy.ca_path))


def sdk_client(
    proxy: CapturingProxy, *, event_hooks: dict | None = None, timeout: float = 30.0, **kw: Any
):
    """An `anthropic.Anthropic` client that talks to api.anthropic.com through `proxy`.

    `event_hooks` go to the underlying `httpx2.Client`; other keywords to `Anthropic`.
    """
    import anthropic
    import httpx2

    http_client = httpx2.Client(
        proxy=proxy.url,
        verify=ssl_context(proxy),
        trust_env=False,
        timeout=timeout,
        event_hooks=event_hooks,
    )
    options: dict[str, Any] = {"api_key": API_KEY, "base_url": API_URL, "max_retries": 0}
    options.update(kw)
    return anthropic.Anthropic(http_client=http_client, **options)


def find_claude() -> str | None:
    """The Claude Code CLI: `.tools/` (make claude-cli), else $GLASS_CLAUDE, else PATH."""
    local = ROOT / ".tools" / "node_modules" / ".bin" / "claude"
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    env = os.environ.get("GLASS_CLAUDE")
    if env:
        found = shutil.which(env)
        if found:
            return found
    return shutil.which("claude")


def in_ci() -> bool:
    """CI=true (or 1, yes): a missing real part is then a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_real_part(reason: str, *, ci: bool | None = None) -> NoReturn:
    """Fail the test under CI (`ci`, default :func:`in_ci`), else skip it, saying `reason`."""
    if in_ci() if ci is None else ci:
        pytest.fail(reason)
    pytest.skip(reason)


def require_claude() -> str:
    """The Claude Code CLI for a real-client test: fails under CI=true if missing, else skips."""
    found = find_claude()
    if found is None:
        missing_real_part("the Claude Code CLI is not installed; run `make claude-cli`")
    return found


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
"""Checked case-insensitively: a test passes the proxy explicitly, never through the environment."""


def env_without(*prefixes: str, **extra: str) -> dict[str, str]:
    """This environment without proxy variables and those starting with `prefixes`, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in PROXY_VARIABLES and not (prefixes and k.startswith(prefixes))
    }
    env.update(extra)
    return env


def claude_env(
    home: str | os.PathLike[str], *prefixes: str, api_key: str | None = API_KEY, **extra: str
) -> dict[str, str]:
    """The environment of the real Claude Code CLI in a test: `env_without` proxies and
    ANTHROPIC_/CLAUDE_ (and `prefixes`) variables, a temporary HOME, the test API key (None:
    none, for a cloud provider), no traffic beyond the Messages API and no auto-update; plus
    `extra`."""
    env = env_without("ANTHROPIC_", "CLAUDE_", *prefixes)
    env.update(
        HOME=str(home), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1"
    )
    if api_key is not None:
        env["ANTHROPIC_API_KEY"] = api_key
    env.update(extra)
    return env


# -- reading captures -----------------------------------------------------------


def capture_files(capture_dir: str | os.PathLike[str]) -> list[Path]:
    """The capture files under `capture_dir`, sorted by day and then numerically."""
    pattern = CAPTURE_NAME
    root = Path(capture_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.glob("*/*.json") if pattern.match(p.name)]
    return sorted(found, key=lambda p: (p.parent.name, int(p.name.split("_", 1)[0])))


def load_capture(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_bytes())


def wait_for_captures(
    capture_dir: str | os.PathLike[str], count: int, *, timeout: float = 15.0
) -> list[Path]:
    """Wait until at least `count` capture files exist and all have ended.

    "Ended" means the file has a `response` or an `error` (the addon writes the
    request first and rewrites the file when the exchange is over). Returns the
    files; on timeout returns what is there, for the caller's assertion to show.
    """
    deadline = time.monotonic() + timeout
    while True:
        paths = capture_files(capture_dir)
        if len(paths) >= count:
            try:
                records = [load_capture(p) for p in paths]
            except (OSError, ValueError):
                records = None
            if records is not None and all("response" in r or "error" in r for r in records):
                return paths
        if time.monotonic() > deadline:
            return paths
        time.sleep(0.05)
