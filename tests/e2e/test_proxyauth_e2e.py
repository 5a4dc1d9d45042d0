"""End to end: a proxy on every interface serves only clients that log in (capture.proxyauth).

A real `python -m capture proxy` (what `make capture` runs) with
`listen_host: 0.0.0.0` and `proxyauth: user:pass`, reached over loopback.
Without the login mitmproxy answers 407 and nothing is captured; with it the
exchange is captured, and neither the capture files nor the proxy's output
hold the password (or its Basic encoding). Last, `make run-claude` logs the
real Claude Code CLI in through `HTTPS_PROXY`.
"""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
from pathlib import Path

import anthropic
import httpx2
import pytest

from tests.e2e.test_capture_e2e import make_run_claude
from tests.proxy import (
    API_KEY,
    API_URL,
    capture_files,
    claude_env,
    load_capture,
    require_claude,
    wait_for_captures,
)

pytestmark = pytest.mark.e2e

USER, PASSWORD = "glass", "pw-9f3Kq-not-in-any-file"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
MODEL = "claude-e2e-standin"


def _status_line(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


def _client(port: int, ca: Path, *, login: str | None) -> anthropic.Anthropic:
    at = f"{login}@" if login else ""
    http = httpx2.Client(
        proxy=f"http://{at}127.0.0.1:{port}",
        verify=ssl.create_default_context(cafile=str(ca)),
        trust_env=False,
    )
    return anthropic.Anthropic(http_client=http, api_key=API_KEY, base_url=API_URL, max_retries=0)


def _assert_no_credential(*texts: bytes | str) -> None:
    for text in texts:
        raw = text.encode() if isinstance(text, str) else text
        assert PASSWORD.encode() not in raw and BASIC.encode() not in raw


def test_a_proxy_on_every_interface_serves_only_clients_that_log_in(
    start_proxy, standin, capture_dir
):
    proxy = start_proxy(
        capture_dir=capture_dir,
        listen_host="0.0.0.0",
        proxyauth=f"{USER}:{PASSWORD}",
        # plain-HTTP proxy requests (they carry Proxy-Authorization themselves) to the stand-in too
        extra_args=["--map-remote", f"|http://api.anthropic.com|http://127.0.0.1:{standin.port}"],
    )
    assert "*:" in proxy.output() or "0.0.0.0" in proxy.output()  # every interface
    output = proxy.output()
    warnings = [line for line in output.splitlines() if line.startswith("Glass: warning:")]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0] and "proxyauth" in warnings[0]

    # without a login: 407 for a tunnel, for a plain proxied request, and for the SDK
    connect = b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n"
    assert " 407 " in _status_line(proxy.port, connect)
    plain = b"POST http://api.anthropic.com/v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 0\r\n\r\n"
    assert " 407 " in _status_line(proxy.port, plain)
    wrong = f"{USER}:wrong"
    for login in (None, wrong):
        with pytest.raises(anthropic.APIConnectionError):
            _client(proxy.port, proxy.ca_path, login=login).messages.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    assert capture_files(capture_dir) == [] and len(standin.requests) == 0

    # with it: the SDK through the tunnel, and curl as a plain-HTTP proxy client
    message = _client(proxy.port, proxy.ca_path, login=f"{USER}:{PASSWORD}").messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text
    done = subprocess.run(
        [
            "curl", "-sS", "--max-time", "30", "-x", f"http://127.0.0.1:{proxy.port}",
            "--proxy-user", f"{USER}:{PASSWORD}", "-H", f"x-api-key: {API_KEY}",
            "-H", "content-type: application/json", "--data-binary",
            f'{{"model": "{MODEL}", "max_tokens": 10, "messages": [{{"role": "user", "content": "hi"}}]}}',
            "http://api.anthropic.com/v1/messages",
        ],
        capture_output=True, check=False, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    paths = wait_for_captures(capture_dir, 2)
    proxy.stop()
    assert len(paths) == 2
    for path in paths:
        record = path.read_bytes()
        assert b'"response"' in record and b'"status": 200' in record
        _assert_no_credential(record)
    _assert_no_credential(proxy.output())


def test_make_run_claude_logs_the_real_claude_code_in(start_proxy, standin, capture_dir, tmp_path):
    claude = require_claude()
    proxy = start_proxy(
        capture_dir=capture_dir, listen_host="0.0.0.0", proxyauth=f"{USER}:{PASSWORD}"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = claude_env(home)
    done = make_run_claude(proxy.config_path, claude=claude, env=env, args='-p "say hello"')
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Hello from the stand-in." in done.stdout
    _assert_no_credential(done.stdout, done.stderr)
    paths = wait_for_captures(capture_dir, len(standin.message_requests))
    proxy.stop()
    assert paths and all("response" in load_capture(p) for p in paths)
    for path in paths:
        _assert_no_credential(path.read_bytes())
    _assert_no_credential(proxy.output())
