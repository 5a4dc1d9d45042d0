"""End to end: real clients -> the real capturing proxy -> a stand-in API.

Every test talks to https://api.anthropic.com through `python -m capture proxy`
(the command `make capture` runs), which `--map-remote`s it to the stand-in,
and then looks at the files the proxy actually wrote. The clients are the
anthropic SDK, curl, httpx2 and, last, the real Claude Code CLI.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
import zlib
from datetime import datetime
from pathlib import Path

import anthropic
import httpx2
import pytest

from tests.proxy import (
    API_KEY,
    CapturingProxy,
    capture_files,
    claude_env,
    env_without,
    free_port,
    load_capture,
    require_claude,
    sdk_client,
    ssl_context,
    wait_for_captures,
)
from tests.standin import (
    NOTES_PROMPT,
    NOTES_SUMMARY,
    Reply,
    Scripted,
    StandIn,
    notes_task,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MODEL = "claude-e2e-standin"
HEADERS = {
    "x-api-key": API_KEY,
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}


# -- helpers ---------------------------------------------------------------------


def no_proxy_env(**extra: str) -> dict[str, str]:
    """This environment without proxy variables (the tests pass the proxy explicitly)."""
    return env_without(**extra)


def body(text: str = "Grüße aus dem Test", *, stream: bool = False, **extra) -> dict:
    out = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}]}
    if stream:
        out["stream"] = True
    out.update(extra)
    return out


def curl_argv(
    proxy: CapturingProxy,
    path: str,
    *,
    data: dict | bytes | None = None,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    argv = [
        "curl",
        "-sS",
        "-N",
        "--http1.1",
        "-x",
        proxy.url,
        "--cacert",
        str(proxy.ca_path),
        "--max-time",
        "30",
    ]
    for name, value in {**HEADERS, **(headers or {})}.items():
        argv += ["-H", f"{name}: {value}"]
    if method:
        argv += ["-X", method]
    if data is not None:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        argv += ["--data-binary", raw.decode("utf-8")]
    argv += extra or []
    return [*argv, f"https://api.anthropic.com{path}"]


def curl(proxy: CapturingProxy, path: str, **kw) -> tuple[int, int, bytes, str]:
    """(curl exit code, HTTP status, body, stderr)."""
    argv = curl_argv(proxy, path, **kw)
    argv[1:1] = ["-w", "%{stderr}\nHTTP_STATUS=%{http_code}\n"]
    done = subprocess.run(argv, capture_output=True, env=no_proxy_env(), check=False, timeout=60)
    err = done.stderr.decode("utf-8", "replace")
    m = re.search(r"HTTP_STATUS=(\d+)", err)
    return done.returncode, int(m.group(1)) if m else 0, done.stdout, err


def sse_events(raw: bytes) -> list[dict]:
    """The JSON `data:` payloads of an event stream (a simple, independent parser)."""
    out = []
    for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(
            line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")
        )
        if data:
            out.append(json.loads(data))
    return out


def streamed_text(events: list[dict]) -> str:
    return "".join(
        e["delta"]["text"]
        for e in events
        if e.get("type") == "content_block_delta" and e["delta"].get("type") == "text_delta"
    )


def ended(proxy: CapturingProxy, count: int) -> list[dict]:
    """Stop the proxy (SIGTERM flushes every write) and load the capture files."""
    wait_for_captures(proxy.capture_dir, count)
    proxy.stop()
    return [load_capture(p) for p in capture_files(proxy.capture_dir)]


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_no_secret(root: Path) -> None:
    for path in all_files(root):
        assert API_KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def matches_sdk(sdk_value, file_value) -> None:
    """The SDK's model dump and the file agree: every key the file has is equal,
    and every key the SDK filled in (not None) is in the file."""
    if isinstance(file_value, dict):
        assert isinstance(sdk_value, dict), (sdk_value, file_value)
        for key, value in file_value.items():
            assert key in sdk_value, f"{key!r} is in the file but not in the SDK's message"
            matches_sdk(sdk_value[key], value)
        for key, value in sdk_value.items():
            if value is not None:
                assert key in file_value, f"the SDK has {key}={value!r}, the file has not"
    elif isinstance(file_value, list):
        assert isinstance(sdk_value, list) and len(sdk_value) == len(file_value), (
            sdk_value,
            file_value,
        )
        for a, b in zip(sdk_value, file_value, strict=True):
            matches_sdk(a, b)
    else:
        assert sdk_value == file_value


# -- the anthropic SDK -------------------------------------------------------------------


def test_sdk_non_streaming_request_becomes_one_redacted_file(proxy, standin, capture_dir):
    sent: list[bytes] = []
    client = sdk_client(proxy, event_hooks={"request": [lambda r: sent.append(r.read())]})
    day_before = datetime.now().strftime("%Y-%m-%d")
    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "Grüße, wie geht's?"}],
        system="Be brief.",
        metadata={"user_id": "user-e2e"},
    )
    day_after = datetime.now().strftime("%Y-%m-%d")
    assert message.content[0].text == "Hello from the stand-in."

    paths = wait_for_captures(capture_dir, 1)
    proxy.stop()
    paths = capture_files(capture_dir)
    assert len(paths) == 1, paths
    (path,) = paths
    assert [p for p in all_files(capture_dir)] == [path], "nothing else under the capture dir"
    assert path.parent.parent == capture_dir and path.parent.name in (day_before, day_after)
    rec = load_capture(path)
    captured_at = datetime.fromisoformat(rec["captured_at"])
    assert path.name == f"001_{captured_at:%H%M%S}_messages.json"
    assert path.parent.name == f"{captured_at:%Y-%m-%d}"

    assert rec["method"] == "POST"
    assert rec["url"] == "https://api.anthropic.com/v1/messages"
    secret_headers = {
        k.lower(): v
        for k, v in rec["headers"].items()
        if k.lower() in ("x-api-key", "authorization")
    }
    assert secret_headers, f"no auth header recorded: {rec['headers']}"
    assert set(secret_headers.values()) == {"[REDACTED]"}
    assert rec["headers"]["anthropic-version"]

    assert len(sent) == 1
    assert rec["request"] == json.loads(sent[0])
    assert rec["request"] == standin.requests[-1].body

    resp = rec["response"]
    assert resp["status"] == 200 and resp["streamed"] is False and "error" not in rec
    assert resp["body"] == message.model_dump(mode="json", exclude_unset=True)
    assert resp["body"]["id"] == message.id
    assert resp["body"]["usage"] == message.usage.model_dump(mode="json", exclude_unset=True)
    assert isinstance(resp["ttfb_ms"], (int, float)) and resp["duration_ms"] >= resp["ttfb_ms"]

    assert_no_secret(capture_dir)
    assert "Grüße".encode() in path.read_bytes(), "non-ASCII is written as itself"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(capture_dir.stat().st_mode) == 0o700


def test_large_bodies_mitmproxy_streams_are_captured_whole(start_proxy, standin, capture_dir):
    # --set stream_large_bodies makes mitmproxy stream (and not keep) big bodies. A streamed
    # request is sent upstream before map-remote can act, so this runs in reverse-proxy mode
    # (the client talks to the proxy as if it were the API) with the stand-in's host captured.
    proxy = start_proxy(
        capture_dir=capture_dir,
        extra_args=(
            "--mode",
            f"reverse:http://127.0.0.1:{standin.port}",
            "--set",
            "stream_large_bodies=10k",
            "--set",
            "capture_providers=anthropic 127.0.0.1 /v1/messages",
        ),
    )
    client = anthropic.Anthropic(
        api_key=API_KEY,
        base_url=proxy.url,
        max_retries=0,
        http_client=httpx2.Client(trust_env=False, timeout=30),
    )
    long_text = "Claude Code sends long histories. " * 3000  # ~100 KB
    client.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": long_text}]
    )
    wait_for_captures(capture_dir, 1)
    proxy.stop()
    (path,) = capture_files(capture_dir)
    rec = load_capture(path)
    assert rec["request"]["messages"][0]["content"] == long_text
    assert rec["response"]["body"]["content"][0]["text"] == "Hello from the stand-in."


def test_sdk_stream_is_reassembled_into_the_final_message(proxy, standin, capture_dir):
    usage = {
        "input_tokens": 1234,
        "cache_creation_input_tokens": 50,
        "cache_read_input_tokens": 900,
        "output_tokens": 321,
    }
    standin.responder = Scripted(
        [
            Reply.message(
                [
                    {"type": "thinking", "thinking": "The user wants the file; Grüße first."},
                    {
                        "type": "text",
                        "text": "Let me read that file for you, it will take a moment.",
                    },
                    {
                        "type": "tool_use",
                        "name": "Read",
                        "input": {
                            "file_path": "/tmp/notes.txt",
                            "limit": 40,
                            "nested": {"ä": [1, 2, None]},
                        },
                    },
                ],
                stop_reason="tool_use",
                usage=usage,
                event_interval_s=0.005,
                delta_pieces=4,
            )
        ]
    )
    client = sdk_client(proxy)
    with client.messages.stream(
        model=MODEL, max_tokens=2000, messages=[{"role": "user", "content": "read /tmp/notes.txt"}]
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]

    (rec,) = ended(proxy, 1)
    resp = rec["response"]
    assert resp["status"] == 200
    assert resp["streamed"] is True and resp["complete"] is True
    assert "error" not in rec and "stream_problems" not in resp
    assert rec["request"]["stream"] is True
    dump = final.model_dump(mode="json")
    matches_sdk(dump["content"], resp["body"]["content"])
    assert resp["body"]["content"][2]["input"] == {
        "file_path": "/tmp/notes.txt",
        "limit": 40,
        "nested": {"ä": [1, 2, None]},
    }
    assert resp["body"]["content"][0]["signature"] == final.content[0].signature
    assert resp["body"]["stop_reason"] == dump["stop_reason"] == "tool_use"
    matches_sdk(dump["usage"], resp["body"]["usage"])
    assert resp["body"]["usage"] == usage
    assert resp["body"]["id"] == final.id
    assert_no_secret(capture_dir)


# -- streaming through curl ------------------------------------------------------------------


def test_stream_is_passed_on_as_it_arrives(proxy, standin, capture_dir):
    """A coarse check that the proxy does not buffer the stream (not the benchmark)."""
    text = "The heron waits by the mill, patient as stone. " * 4
    standin.responder = Scripted([Reply.text(text, stream_duration_s=1.5, delta_pieces=12)])
    argv = curl_argv(proxy, "/v1/messages", data=body(stream=True))
    argv[1:1] = ["-w", "%{stderr}TIMES %{time_starttransfer} %{time_total}\n"]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=no_proxy_env()
    )
    first_byte_at = None
    out = bytearray()
    while chunk := os.read(proc.stdout.fileno(), 65536):
        if first_byte_at is None:
            first_byte_at = time.monotonic() - start
        out += chunk
    total = time.monotonic() - start
    stderr = proc.stderr.read().decode()
    assert proc.wait(10) == 0, stderr
    starttransfer, curl_total = map(float, re.search(r"TIMES (\S+) (\S+)", stderr).groups())

    assert curl_total >= 1.3, "the stand-in's stream lasts 1.5 s"
    assert starttransfer < 0.4 * curl_total, (starttransfer, curl_total)
    assert first_byte_at is not None and first_byte_at < 0.4 * total, (first_byte_at, total)
    assert streamed_text(sse_events(bytes(out))) == text

    (rec,) = ended(proxy, 1)
    resp = rec["response"]
    assert resp["streamed"] is True and resp["complete"] is True
    assert resp["body"]["content"] == [{"type": "text", "text": text}]
    assert resp["duration_ms"] >= 1300 and resp["ttfb_ms"] < 0.4 * resp["duration_ms"]


def test_gzip_encoded_stream_is_reassembled(proxy, standin, capture_dir):
    text = "Komprimierte Grüße, Stück für Stück. " * 6
    standin.responder = Scripted(
        [Reply.text(text, gzip=True, delta_pieces=8, event_interval_s=0.01)]
    )
    code, status, raw, err = curl(proxy, "/v1/messages", data=body(stream=True))
    assert code == 0 and status == 200, err
    sse_bytes = zlib.decompress(raw, 16 + zlib.MAX_WBITS)  # the client got the gzip stream as sent
    assert streamed_text(sse_events(sse_bytes)) == text

    (rec,) = ended(proxy, 1)
    resp = rec["response"]
    assert {k.lower(): v for k, v in resp["headers"].items()}["content-encoding"] == "gzip"
    assert resp["streamed"] is True and resp["complete"] is True
    assert resp["body"]["content"] == [{"type": "text", "text": text}]
    assert resp["body"]["stop_reason"] == "end_turn"


# -- what is captured, and under which name ------------------------------------------------------


def test_names_urls_and_what_is_not_captured(proxy, standin, capture_dir):
    code, status, raw, err = curl(proxy, "/v1/messages?beta=true", data=body())
    assert (code, status) == (0, 200), err
    assert json.loads(raw)["content"][0]["text"] == "Hello from the stand-in."
    code, status, raw, err = curl(proxy, "/v1/messages/count_tokens?beta=true", data=body())
    assert (code, status) == (0, 200), err
    assert "input_tokens" in json.loads(raw)
    code, status, raw, err = curl(proxy, "/v1/messages", method="GET")
    assert (code, status) == (0, 404), err
    code, status, raw, err = curl(proxy, "/v1/models", data=body())
    assert (code, status) == (0, 404), err
    code, status, raw, err = curl(proxy, "/v1/models")
    assert (code, status) == (0, 404), err
    assert len(standin.requests) == 5, "every request reached the upstream"

    wait_for_captures(capture_dir, 2)
    proxy.stop()
    paths = capture_files(capture_dir)
    assert [re.sub(r"_\d{6}_", "_HHMMSS_", p.name) for p in paths] == [
        "001_HHMMSS_messages.json",
        "002_HHMMSS_count_tokens.json",
    ]
    assert all("?" not in p.name and "beta" not in p.name for p in paths)
    first, second = (load_capture(p) for p in paths)
    assert first["url"] == "https://api.anthropic.com/v1/messages?beta=true"
    assert second["url"] == "https://api.anthropic.com/v1/messages/count_tokens?beta=true"
    assert first["headers"]["x-api-key"] == "[REDACTED]"
    assert second["response"]["body"] == {
        "input_tokens": second["response"]["body"]["input_tokens"]
    }
    assert all_files(capture_dir) == sorted(paths), "a GET or /v1/models wrote nothing"
    assert_no_secret(capture_dir)


def test_analyzer_requests_are_forwarded_but_not_captured(proxy, standin, capture_dir):
    code, status, raw, err = curl(
        proxy, "/v1/messages", data=body("analyzer call"), headers={"x-glass-analyzer": "1"}
    )
    assert (code, status) == (0, 200), err
    assert json.loads(raw)["content"][0]["text"] == "Hello from the stand-in."
    assert standin.requests[-1].body["messages"][0]["content"] == "analyzer call"
    code, status, raw, err = curl(proxy, "/v1/messages", data=body("user call"))
    assert (code, status) == (0, 200), err

    records = ended(proxy, 1)
    assert [r["request"]["messages"][0]["content"] for r in records] == ["user call"]
    assert capture_files(capture_dir)[0].name.startswith("001_")


# -- upstream failures -----------------------------------------------------------------------------


def test_upstream_reset_is_recorded_as_an_error(proxy, standin, capture_dir):
    standin.responder = Scripted([Reply.reset()])
    code, status, raw, err = curl(proxy, "/v1/messages", data=body(stream=True))
    assert status == 502, (code, status, raw, err)  # mitmproxy's answer when the upstream is gone

    (rec,) = ended(proxy, 1)
    assert rec["error"]["message"]
    assert rec["request"]["stream"] is True
    assert "response" not in rec, "the upstream sent no response"
    assert_no_secret(capture_dir)


def test_stream_cut_by_the_upstream_keeps_the_partial_answer(proxy, standin, capture_dir):
    # events: message_start, block_start, ping, 4 text deltas, ... -> cut after two deltas
    text = "one two three four five six seven eight"
    standin.responder = Scripted(
        [Reply.text(text, delta_pieces=4, abort_after_events=5, event_interval_s=0.01)]
    )
    code, status, raw, err = curl(proxy, "/v1/messages", data=body(stream=True))
    assert status == 200 and code != 0, (code, err)  # the client saw the cut
    events = sse_events(raw)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
    ]
    received = streamed_text(events)
    assert received and text.startswith(received) and received != text

    (rec,) = ended(proxy, 1)
    assert rec["error"]["message"]
    resp = rec["response"]
    assert resp["status"] == 200 and resp["streamed"] is True and resp["complete"] is False
    assert resp["body"]["content"][0]["text"] == received, "the file holds what the client got"
    assert resp["body"]["stop_reason"] is None


def test_upstream_error_status_is_recorded_and_passed_on(proxy, standin, capture_dir):
    standin.responder = Scripted([Reply.overloaded()])
    code, status, raw, err = curl(proxy, "/v1/messages", data=body(stream=True))
    assert (code, status) == (0, 529), err
    assert json.loads(raw)["error"]["type"] == "overloaded_error"

    (rec,) = ended(proxy, 1)
    assert "error" not in rec
    assert rec["response"]["status"] == 529
    assert rec["response"]["body"] == json.loads(raw)


def test_client_gone_mid_stream_is_recorded(proxy, standin, capture_dir):
    standin.responder = Scripted([Reply.text("slow " * 40, stream_duration_s=4, delta_pieces=20)])
    code, status, raw, err = curl(
        proxy, "/v1/messages", data=body(stream=True), extra=["--max-time", "1.2"]
    )
    assert code == 28, err  # curl's own timeout
    assert status == 200, err  # the headers had arrived
    assert raw.startswith(b"event: message_start")

    (rec,) = ended(proxy, 1)
    assert rec["error"]["message"]
    assert rec["response"]["complete"] is False
    assert rec["response"]["body"]["content"][0]["text"].startswith("slow")


# -- numbering ------------------------------------------------------------------------------------


def test_numbering_continues_after_a_restart(start_proxy, standin, capture_dir):
    first = start_proxy(capture_dir=capture_dir)
    for _ in range(2):
        assert curl(first, "/v1/messages", data=body())[:2] == (0, 200)
    wait_for_captures(capture_dir, 2)
    first.stop()
    second = start_proxy(capture_dir=capture_dir)
    assert curl(second, "/v1/messages?beta=true", data=body("after restart"))[:2] == (0, 200)
    records = ended(second, 3)
    numbers = [p.name.split("_")[0] for p in capture_files(capture_dir)]
    assert numbers == ["001", "002", "003"]
    assert records[2]["request"]["messages"][0]["content"] == "after restart"


def test_concurrent_keep_alive_clients_get_unique_numbers(proxy, standin, capture_dir):
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    answers: dict[str, str] = {}
    lock = threading.Lock()

    def client(t: int) -> None:
        try:
            with httpx2.Client(
                proxy=proxy.url, verify=ssl_context(proxy), trust_env=False, timeout=60
            ) as http:
                for i in range(per_thread):
                    marker = f"req-{t}-{i}"
                    stream = i % 2 == 1
                    r = http.post(
                        "https://api.anthropic.com/v1/messages?beta=true",
                        json=body(marker, stream=stream),
                        headers=HEADERS,
                    )
                    assert r.status_code == 200, r.text
                    if stream:
                        text = streamed_text(sse_events(r.content))
                    else:
                        text = r.json()["content"][0]["text"]
                    with lock:
                        answers[marker] = text
        except BaseException as e:  # noqa: BLE001 - asserted empty by the main thread
            errors.append(e)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors
    total = threads * per_thread
    assert len(answers) == total and set(answers.values()) == {"Hello from the stand-in."}

    records = ended(proxy, total)
    paths = capture_files(capture_dir)
    assert len(paths) == total
    assert sorted(int(p.name.split("_")[0]) for p in paths) == list(range(1, total + 1))
    assert {r["request"]["messages"][0]["content"] for r in records} == set(answers)
    for rec in records:
        assert "error" not in rec and rec["response"]["status"] == 200
        if rec["request"].get("stream"):
            assert rec["response"]["streamed"] is True and rec["response"]["complete"] is True
        assert rec["response"]["body"]["content"] == [
            {"type": "text", "text": "Hello from the stand-in."}
        ]
    assert not [p for p in all_files(capture_dir) if p.name.startswith(".")], "no temp files left"


# -- the proxy never breaks the session ---------------------------------------------------------


def stream_through(proxy: CapturingProxy, standin: StandIn) -> None:
    """An SDK stream through `proxy` arrives whole, in several pieces."""
    text = "Still streaming, whatever the disk says."
    standin.responder = Scripted([Reply.text(text, delta_pieces=5, event_interval_s=0.01)])
    client = sdk_client(proxy)
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == text and len(pieces) > 1
    assert final.content[0].text == text


def test_capture_dir_turning_unwritable_does_not_break_the_traffic(proxy, standin, capture_dir):
    # The proxy made capture_dir on start; now a regular file stands in its place
    # (tests run as root, so chmod would not stop the writes).
    capture_dir.rmdir()
    capture_dir.write_text("not a folder\n")
    stream_through(proxy, standin)
    stream_through(proxy, standin)  # and the next request as well

    assert proxy.wait_for_output("could not write capture file"), proxy.output()
    proxy.stop()
    error_lines = [
        line for line in proxy.output().splitlines() if "could not write capture file" in line
    ]
    assert len(error_lines) >= 2, proxy.output()
    assert capture_dir.read_text() == "not a folder\n"


def test_unwritable_capture_dir_at_startup_does_not_break_the_traffic(
    start_proxy, standin, tmp_path
):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a folder\n")
    proxy = start_proxy(capture_dir=blocker / "captures")
    time.sleep(0.5)
    assert proxy.running, f"the proxy exited:\n{proxy.output()}"
    stream_through(proxy, standin)
    assert proxy.wait_for_output("could not write capture file"), proxy.output()
    proxy.stop()
    assert f"capture folder {blocker / 'captures'} is not usable" in proxy.output()


# -- the real Claude Code CLI ------------------------------------------------------------------------


def make_run_claude(
    config: Path,
    *,
    claude: str | None = None,
    args: str = "",
    project: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = ["make", "--no-print-directory", "run-claude", f"CONFIG={config}"]
    if claude:
        argv.append(f"CLAUDE={claude}")
    if project:
        argv.append(f"DIR={project}")
    if args:
        argv.append(f"ARGS={args}")
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=env or no_proxy_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_real_claude_code_session_is_captured(proxy, standin, capture_dir, tmp_path):
    claude = require_claude()
    task = notes_task(tmp_path)
    final_text = NOTES_SUMMARY
    standin.responder = task.responder

    done = make_run_claude(
        proxy.config_path,
        claude=claude,
        project=task.project,
        env=claude_env(task.home),
        args=f'-p "{NOTES_PROMPT}" --allowedTools Read',
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert final_text in done.stdout

    messages = standin.message_requests
    assert len(messages) >= 2
    wait_for_captures(capture_dir, len(messages))
    proxy.stop()
    paths = [p for p in capture_files(capture_dir) if p.name.endswith("_messages.json")]
    assert len(paths) >= 2
    assert all("?" not in p.name and "beta" not in p.name for p in capture_files(capture_dir))
    records = [load_capture(p) for p in capture_files(capture_dir)]
    assert all("response" in r and "error" not in r for r in records)
    assert all(r["url"].startswith("https://api.anthropic.com/v1/messages") for r in records)
    assert all(r["headers"].get("x-api-key", "[REDACTED]") == "[REDACTED]" for r in records)

    tool_ids = [
        b["id"]
        for r in records
        for b in (r["response"]["body"] or {}).get("content", [])
        if b.get("type") == "tool_use"
    ]
    assert tool_ids, "the stand-in asked Claude Code to Read the file"
    results = [
        block
        for r in records
        for m in r["request"].get("messages", [])
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]
    result = next((b for b in results if b.get("tool_use_id") == tool_ids[0]), None)
    assert result is not None, f"no tool_result for {tool_ids[0]} in {results}"
    assert "blue heron nests by the old mill" in json.dumps(result, ensure_ascii=False)
    final = [
        r
        for r in records
        if any(
            b.get("type") == "text" and b.get("text") == final_text
            for b in (r["response"]["body"] or {}).get("content", [])
        )
    ]
    assert final, "the final answer is captured"
    assert_no_secret(capture_dir)


def test_run_claude_with_a_wrong_claude_starts_no_proxy(tmp_path, confdir):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"capture:\n  listen_port: {free_port()}\n  confdir: {json.dumps(str(confdir))}\n"
        f"  dir: {json.dumps(str(tmp_path / 'captures'))}\n"
    )
    done = make_run_claude(config, claude="/nonexistent/claude", args="-p hi")
    assert done.returncode != 0
    ours = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not line.startswith(("make:", "make["))
    ]
    assert len(ours) == 1, ours
    assert "CLAUDE=/nonexistent/claude" in ours[0]
    assert not (tmp_path / "captures").exists(), "no proxy was started (no state folder)"


def test_run_claude_without_the_ca_names_it(proxy, tmp_path):
    empty_confdir = tmp_path / "no-ca"
    empty_confdir.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"capture:\n  listen_port: {proxy.port}\n  confdir: {json.dumps(str(empty_confdir))}\n"
        f"  dir: {json.dumps(str(tmp_path / 'captures'))}\n"
    )
    done = make_run_claude(config, claude="true", args="-p hi")
    assert done.returncode != 0
    ours = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not line.startswith(("make:", "make["))
    ]
    assert len(ours) == 1, ours
    assert "mitmproxy-ca-cert.pem" in ours[0] and str(empty_confdir) in ours[0]
