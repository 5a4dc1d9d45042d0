"""Tests for tests/standin.py, using real clients only (anthropic SDK, sockets, curl)."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest

from tests.standin import (
    DEFAULT_USAGE,
    ClaudeCodeResponder,
    ForcedToolResponder,
    Recorded,
    Reply,
    Scripted,
    StandIn,
)

REPO = Path(__file__).resolve().parent.parent
MODEL = "claude-standin-test"  # not a real model: no SDK deprecation warnings
USER = [{"role": "user", "content": "hello"}]
USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000,
    "output_tokens": 56,
}


# --------------------------------------------------------------------------- #
# fixtures and helpers
# --------------------------------------------------------------------------- #


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn() as standin:
        yield standin


@pytest.fixture
def client(api: StandIn) -> Iterator[anthropic.Anthropic]:
    http_client = httpx2.Client(trust_env=False)
    with anthropic.Anthropic(
        api_key="test", base_url=api.url, http_client=http_client, max_retries=0
    ) as c:
        yield c


def post(
    api: StandIn, path: str, body: object, *, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """POST JSON with http.client (no proxies involved)."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request(
        "POST",
        path,
        body=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    return conn.getresponse()


def read_chunked_events(port: int, body: dict[str, object]) -> list[tuple[float, bytes]]:
    """Send a streaming request over a raw socket; return (arrival time, chunk payload) per chunk."""
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
        )
        f = sock.makefile("rb")
        status = f.readline()
        assert b" 200 " in status
        headers = {}
        while (line := f.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["transfer-encoding"] == "chunked"
        assert headers["content-type"].startswith("text/event-stream")
        chunks: list[tuple[float, bytes]] = []
        while True:
            size = int(f.readline().strip(), 16)
            if size == 0:
                f.readline()
                return chunks
            chunks.append((time.monotonic(), f.read(size)))
            assert f.read(2) == b"\r\n"


# --------------------------------------------------------------------------- #
# SDK: JSON and SSE
# --------------------------------------------------------------------------- #


def test_sdk_non_streaming_text_and_usage(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.text("scripted answer", usage=USAGE)])
    message = client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert message.content[0].type == "text"
    assert message.content[0].text == "scripted answer"
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_")
    assert message.usage.input_tokens == 12
    assert message.usage.cache_creation_input_tokens == 300
    assert message.usage.cache_read_input_tokens == 4000
    assert message.usage.output_tokens == 56


def test_json_shape_matches_real_api(api: StandIn) -> None:
    resp = post(api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": USER})
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/json"
    assert resp.getheader("request-id", "").startswith("req_")
    message = json.loads(resp.read())
    assert list(message) == [
        "id",
        "type",
        "role",
        "model",
        "content",
        "stop_reason",
        "stop_sequence",
        "usage",
    ]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["stop_sequence"] is None
    assert message["usage"] == DEFAULT_USAGE
    second = json.loads(post(api, "/v1/messages", {"model": MODEL, "messages": USER}).read())
    assert second["id"] != message["id"]


def test_sdk_streaming_reconstructs_all_block_types(
    api: StandIn, client: anthropic.Anthropic
) -> None:
    tool_input = {"file_path": "/tmp/some file.txt", "limit": 40, "nested": {"a": [1, 2, 3]}}
    api.responder = Scripted(
        [
            Reply.message(
                [
                    {
                        "type": "thinking",
                        "thinking": "Let me think about this carefully.",
                        "signature": "sig-abc",
                    },
                    {"type": "redacted_thinking", "data": "opaque-blob"},
                    {"type": "text", "text": "I will read the file now, naïvely ✓."},
                    {"type": "tool_use", "id": "toolu_fixed", "name": "Read", "input": tool_input},
                ],
                stop_reason="tool_use",
                usage=USAGE,
            )
        ]
    )
    with client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        event_types = [event.type for event in stream]
        final = stream.get_final_message()

    assert [b.type for b in final.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    thinking, redacted, text, tool = final.content
    assert (
        thinking.thinking == "Let me think about this carefully."
        and thinking.signature == "sig-abc"
    )
    assert redacted.data == "opaque-blob"
    assert text.text == "I will read the file now, naïvely ✓."
    assert (tool.id, tool.name, tool.input) == ("toolu_fixed", "Read", tool_input)
    assert final.stop_reason == "tool_use"
    assert final.usage.input_tokens == 12
    assert final.usage.cache_creation_input_tokens == 300
    assert final.usage.cache_read_input_tokens == 4000
    assert final.usage.output_tokens == 56
    assert event_types[0] == "message_start" and event_types[-1] == "message_stop"


def test_sse_event_sequence_and_framing(api: StandIn) -> None:
    api.responder = Scripted(
        [
            Reply.message(
                [
                    {"type": "text", "text": "abcdefghi"},
                    {"type": "tool_use", "name": "Bash", "input": {"command": "ls"}},
                ],
                stop_reason="tool_use",
                usage=USAGE,
            )
        ]
    )
    chunks = read_chunked_events(api.port, {"model": MODEL, "stream": True, "messages": USER})
    events = []
    for _, payload in chunks:  # exactly one complete event per chunk
        text = payload.decode()
        assert text.endswith("\n\n") and text.count("\n\n") == 1
        event_line, data_line = text.strip("\n").split("\n")
        name = event_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        events.append(data)
    names = [e["type"] for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start_usage = events[0]["message"]["usage"]
    assert start_usage == {**USAGE, "output_tokens": 1}
    assert [e["delta"]["text"] for e in events[3:6]] == ["abc", "def", "ghi"]
    tool_start = events[7]["content_block"]
    assert tool_start["input"] == {} and tool_start["id"].startswith("toolu_")
    assert json.loads("".join(e["delta"]["partial_json"] for e in events[8:11])) == {
        "command": "ls"
    }
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": USAGE,
    }


def test_gzip_json_and_gzip_sse_decoded_by_sdk(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.text("zipped " * 20, gzip=True, usage=USAGE)])
    message = client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert message.content[0].text == "zipped " * 20
    with client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "zipped " * 20
    assert final.usage.cache_read_input_tokens == 4000

    # and it really is gzip on the wire, one sync-flushed member per stream
    resp = post(api, "/v1/messages", {"model": MODEL, "stream": True, "messages": USER})
    assert resp.getheader("content-encoding") == "gzip"
    text = gzip.decompress(resp.read()).decode()
    assert text.startswith("event: message_start\n") and text.endswith(
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


# --------------------------------------------------------------------------- #
# errors and transport failures
# --------------------------------------------------------------------------- #


def test_error_replies_surface_as_typed_sdk_errors(
    api: StandIn, client: anthropic.Anthropic
) -> None:
    api.responder = Scripted(
        [
            Reply.rate_limited(retry_after=1),
            Reply.overloaded(),
            Reply.api_error(),
            Reply.request_too_large(),
            Reply.prompt_too_long(),
        ]
    )
    with pytest.raises(anthropic.RateLimitError) as rate:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert rate.value.status_code == 429
    assert rate.value.response.headers["retry-after"] == "1"
    assert rate.value.body["error"]["type"] == "rate_limit_error"

    with pytest.raises(anthropic.InternalServerError) as overloaded:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"

    with pytest.raises(anthropic.InternalServerError) as server:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert server.value.status_code == 500

    with pytest.raises(anthropic.APIStatusError) as too_large:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert too_large.value.status_code == 413

    with pytest.raises(anthropic.BadRequestError) as too_long:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert "prompt is too long" in too_long.value.body["error"]["message"]


def test_stream_error_event_mid_stream(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.text("never finished", stream_error=True)])
    with (
        pytest.raises(anthropic.APIStatusError) as err,
        client.messages.stream(model=MODEL, max_tokens=5, messages=USER) as stream,
    ):
        stream.get_final_message()
    assert err.value.body["error"]["type"] == "overloaded_error"
    # the connection stays usable afterwards (the stream ended cleanly)
    api.responder = Scripted([Reply.text("ok")])
    assert client.messages.create(model=MODEL, max_tokens=5, messages=USER).content[0].text == "ok"


def test_reset_surfaces_as_connection_error(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.reset(), Reply.text("after reset")])
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert (
        client.messages.create(model=MODEL, max_tokens=5, messages=USER).content[0].text
        == "after reset"
    )


def test_reset_is_a_tcp_rst(api: StandIn) -> None:
    api.responder = Scripted([Reply.reset()])
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)) as err:
        post(api, "/v1/messages", {"model": MODEL, "messages": USER})
    # RemoteDisconnected would mean FIN; with SO_LINGER 0 we expect a reset
    assert isinstance(err.value, ConnectionResetError)


def test_hang_triggers_client_timeout(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.hang(5.0)])
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=5, messages=USER, timeout=0.3)
    assert time.monotonic() - started < 3


def test_hang_then_answers(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.hang(0.2, then=Reply.text("late"))])
    started = time.monotonic()
    assert (
        client.messages.create(model=MODEL, max_tokens=5, messages=USER).content[0].text == "late"
    )
    assert time.monotonic() - started >= 0.2


def test_abort_after_events_gives_incomplete_stream(
    api: StandIn, client: anthropic.Anthropic
) -> None:
    api.responder = Scripted([Reply.text("cut short", abort_after_events=3)])
    resp = post(api, "/v1/messages", {"model": MODEL, "stream": True, "messages": USER})
    assert resp.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        resp.read()

    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)),
        client.messages.stream(model=MODEL, max_tokens=5, messages=USER) as stream,
    ):
        stream.get_final_message()

    # JSON replies are cut in the middle of the body
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        post(api, "/v1/messages", {"model": MODEL, "messages": USER}).read()


def test_responder_exception_becomes_500(api: StandIn, client: anthropic.Anthropic) -> None:
    def broken(request: Recorded) -> Reply:
        raise RuntimeError("boom")

    api.responder = broken
    with pytest.raises(anthropic.InternalServerError) as err:
        client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert err.value.body["error"]["type"] == "api_error"
    api.responder = Scripted([Reply.text("recovered")])
    assert (
        client.messages.create(model=MODEL, max_tokens=5, messages=USER).content[0].text
        == "recovered"
    )


# --------------------------------------------------------------------------- #
# incremental delivery
# --------------------------------------------------------------------------- #


def test_sse_events_arrive_incrementally(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("one two three", event_interval_s=0.05)])
    chunks = read_chunked_events(api.port, {"model": MODEL, "stream": True, "messages": USER})
    assert chunks[0][1].startswith(b"event: message_start")
    assert chunks[-1][1].startswith(b"event: message_stop")
    first, last = chunks[0][0], chunks[-1][0]
    # 9 events, 8 gaps of 50 ms: the first must not be held back until the end
    assert first < last - 0.25


def test_gzip_sse_is_flushed_per_event(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("one two three", event_interval_s=0.05, gzip=True)])
    chunks = read_chunked_events(api.port, {"model": MODEL, "stream": True, "messages": USER})
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    first_text = decompressor.decompress(chunks[0][1])
    assert first_text.startswith(b"event: message_start\n") and first_text.endswith(b"\n\n")
    assert chunks[0][0] < chunks[-1][0] - 0.25


# --------------------------------------------------------------------------- #
# recording, routes, request bodies
# --------------------------------------------------------------------------- #


def test_recorded_request_has_query_headers_and_body(
    api: StandIn, client: anthropic.Anthropic
) -> None:
    client.messages.create(
        model=MODEL,
        max_tokens=7,
        messages=USER,
        extra_query={"beta": "true"},
        extra_headers={"X-Custom-Thing": "Yes"},
    )
    assert len(api.requests) == 1
    rec = api.requests[0]
    assert (rec.method, rec.path, rec.query) == ("POST", "/v1/messages", "beta=true")
    assert rec.params == {"beta": ["true"]}
    assert rec.headers["x-custom-thing"] == "Yes"
    assert rec.headers["anthropic-version"]
    assert all(name == name.lower() for name in rec.headers)
    assert rec.body == {"model": MODEL, "max_tokens": 7, "messages": USER}
    assert json.loads(rec.raw) == rec.body
    assert rec.time == pytest.approx(time.time(), abs=5)
    assert api.message_requests == [rec]


def test_count_tokens_and_404(api: StandIn) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 400}]}
    resp = post(api, "/v1/messages/count_tokens?beta=true", body)
    assert resp.status == 200
    assert json.loads(resp.read()) == {"input_tokens": len(json.dumps(body)) // 4}

    resp = post(api, "/v1/complete", {})
    assert resp.status == 404
    error = json.loads(resp.read())
    assert error["type"] == "error" and error["error"]["type"] == "not_found_error"

    with pytest.raises(urllib.error.HTTPError) as err:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(f"{api.url}/v1/models", timeout=5)
    assert err.value.code == 404
    assert [r.path for r in api.requests] == [
        "/v1/messages/count_tokens",
        "/v1/complete",
        "/v1/models",
    ]


def test_chunked_and_compressed_request_bodies(api: StandIn) -> None:
    body = {"model": MODEL, "max_tokens": 3, "messages": USER}
    data = json.dumps(body).encode()

    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request(
        "POST",
        "/v1/messages",
        body=iter([data[:10], data[10:]]),
        headers={"content-type": "application/json"},
        encode_chunked=True,
    )
    assert conn.getresponse().read()
    assert api.requests[-1].headers["transfer-encoding"] == "chunked"
    assert api.requests[-1].body == body

    zipped = gzip.compress(data)
    conn.request(
        "POST",
        "/v1/messages",
        body=zipped,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert conn.getresponse().read()
    rec = api.requests[-1]
    assert rec.body == body and rec.wire == zipped and rec.raw == data

    conn.request(
        "POST",
        "/v1/messages",
        body=b"\x00opaque",
        headers={"content-type": "application/json", "content-encoding": "br"},
    )
    assert conn.getresponse().read()
    assert api.requests[-1].raw == b"\x00opaque" and api.requests[-1].body is None


def test_keep_alive_reuses_one_connection(api: StandIn) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    for stream in (False, True, False):
        conn.request(
            "POST",
            "/v1/messages",
            body=json.dumps({"model": MODEL, "stream": stream}).encode(),
            headers={"content-type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read()
    conn.close()


def test_concurrent_requests(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = Scripted([Reply.text("slow", event_interval_s=0.02)])
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with client.messages.stream(model=MODEL, max_tokens=5, messages=USER) as stream:
                assert stream.get_final_message().content[0].text == "slow"
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(api.requests) == 8


# --------------------------------------------------------------------------- #
# responders
# --------------------------------------------------------------------------- #


def test_claude_code_responder_drives_a_tool_loop(
    api: StandIn, client: anthropic.Anthropic
) -> None:
    api.responder = ClaudeCodeResponder(read_path="/tmp/target.txt", final_text="The file says hi.")
    tools = [
        {
            "name": "Read",
            "description": "read a file",
            "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
        }
    ]

    side = client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert "Stand-in" in side.content[0].text

    with client.messages.stream(model=MODEL, max_tokens=50, messages=USER, tools=tools) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert (
        call.type == "tool_use"
        and call.name == "Read"
        and call.input == {"file_path": "/tmp/target.txt"}
    )
    assert call.id.startswith("toolu_")

    messages = [
        *USER,
        {
            "role": "assistant",
            "content": [call.model_dump(include={"type", "id", "name", "input"})],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hi"}],
        },
    ]
    final = client.messages.create(model=MODEL, max_tokens=50, messages=messages, tools=tools)
    assert final.stop_reason == "end_turn" and final.content[0].text == "The file says hi."

    again = client.messages.create(model=MODEL, max_tokens=50, messages=USER, tools=tools)
    assert again.content[0].id != call.id


def test_forced_tool_responder(api: StandIn, client: anthropic.Anthropic) -> None:
    api.responder = ForcedToolResponder(
        lambda rec: {"title": "t", "n_messages": len(rec.body["messages"])}
    )
    tools = [{"name": "record", "input_schema": {"type": "object"}}]
    forced = client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=USER,
        tools=tools,
        tool_choice={"type": "tool", "name": "record"},
    )
    assert forced.stop_reason == "tool_use"
    assert (forced.content[0].name, forced.content[0].input) == (
        "record",
        {"title": "t", "n_messages": 1},
    )
    plain = client.messages.create(model=MODEL, max_tokens=50, messages=USER, tools=tools)
    assert plain.content[0].type == "text"


# --------------------------------------------------------------------------- #
# as a process
# --------------------------------------------------------------------------- #


def test_module_runs_as_a_process_and_answers_curl() -> None:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin",
            "--port",
            "0",
            "--stream-seconds",
            "0.3",
            "--text-bytes",
            "600",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        assert ready and ready[0].startswith("READY "), (ready, proc.poll())
        port = int(ready[0].split()[1])
        url = f"http://127.0.0.1:{port}/v1/messages?beta=true"
        curl = [
            "curl",
            "-sS",
            "--noproxy",
            "*",
            "--max-time",
            "10",
            "-H",
            "content-type: application/json",
        ]

        out = subprocess.run(
            [*curl, "-d", json.dumps({"model": MODEL, "messages": USER}), url],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        ).stdout
        message = json.loads(out)
        assert message["type"] == "message" and len(message["content"][0]["text"]) == 600

        started = time.monotonic()
        out = subprocess.run(
            [
                *curl,
                "-N",
                "-d",
                json.dumps({"model": MODEL, "stream": True, "messages": USER}),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        ).stdout
        assert time.monotonic() - started >= 0.25  # events spread over --stream-seconds
        assert out.startswith("event: message_start\n") and "event: message_stop\n" in out
        text = "".join(
            json.loads(line[6:])["delta"]["text"]
            for line in out.splitlines()
            if line.startswith("data: ") and '"text_delta"' in line
        )
        assert len(text) == 600
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            stderr = proc.stderr.read()
            proc.stderr.close()
    assert "Traceback" not in stderr
