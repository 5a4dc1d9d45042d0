"""Tests for tests/standin.py, using real clients only (anthropic SDK, sockets, curl)."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import socket
import struct
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


# --------------------------------------------------------------------------- #
# Vertex AI and Bedrock paths
# --------------------------------------------------------------------------- #

VERTEX_MODEL = "claude-sonnet-4-5@20250929"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BEDROCK_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"  # as the AWS SDKs quote it


@pytest.fixture
def vertex(api: StandIn) -> Iterator[anthropic.AnthropicVertex]:
    """The SDK's own Vertex client (the URL scheme Claude Code uses), with a dummy token."""
    with anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj",
        access_token="ya29.test-token",
        base_url=f"{api.url}/v1",
        http_client=httpx2.Client(trust_env=False),
        max_retries=0,
    ) as c:
        yield c


def test_vertex_stream_raw_predict_is_sse_and_raw_predict_json(
    api: StandIn, vertex: anthropic.AnthropicVertex
) -> None:
    api.responder = Scripted([Reply.text("from vertex", usage=USAGE)])
    with vertex.messages.stream(model=VERTEX_MODEL, max_tokens=5, messages=USER) as stream:
        streamed = stream.get_final_message()
    message = vertex.messages.create(model=VERTEX_MODEL, max_tokens=5, messages=USER)
    for answer in (streamed, message):
        assert answer.content[0].type == "text" and answer.content[0].text == "from vertex"
        assert answer.model == VERTEX_MODEL  # the URL's model: the body has none
        assert answer.usage.cache_read_input_tokens == 4000
    first, second = api.message_requests
    base = "/v1/projects/proj/locations/us-east5/publishers/anthropic/models/"
    assert first.path == base + VERTEX_MODEL + ":streamRawPredict" and first.is_stream
    assert second.path == base + VERTEX_MODEL + ":rawPredict" and not second.is_stream
    assert first.provider == second.provider == "vertex"
    assert "model" not in first.body and "anthropic_version" in first.body
    assert first.headers["authorization"] == "Bearer ya29.test-token"


def test_vertex_count_tokens_and_unknown_methods(api: StandIn) -> None:
    base = "/v1/projects/proj/locations/global/publishers/anthropic/models/"
    body = {"messages": USER}
    resp = post(api, base + "count-tokens:rawPredict", body)
    assert resp.status == 200 and json.loads(resp.read()) == {
        "input_tokens": len(json.dumps(body)) // 4
    }
    assert post(api, base + VERTEX_MODEL + ":predict", body).status == 404
    assert post(api, "/v1/projects/p/publishers/anthropic/models/m:rawPredict", body).status == 404


def read_frames(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """An independent reader of AWS event-stream frames (string headers), checking both CRCs."""
    frames = []
    while data:
        total, header_length, prelude_crc = struct.unpack(">III", data[:12])
        assert zlib.crc32(data[:8]) == prelude_crc
        assert zlib.crc32(data[: total - 4]) == struct.unpack(">I", data[total - 4 : total])[0]
        headers, raw = {}, data[12 : 12 + header_length]
        while raw:
            name_length = raw[0]
            name = raw[1 : 1 + name_length].decode()
            assert raw[1 + name_length] == 7  # a string value
            (value_length,) = struct.unpack(">H", raw[2 + name_length : 4 + name_length])
            headers[name] = raw[4 + name_length : 4 + name_length + value_length].decode()
            raw = raw[4 + name_length + value_length :]
        frames.append((headers, data[12 + header_length : total - 4]))
        data = data[total:]
    return frames


def chunk_events(frames: list[tuple[dict[str, str], bytes]]) -> list[dict[str, object]]:
    """The Messages stream events inside Bedrock `chunk` frames."""
    events = []
    for headers, payload in frames:
        assert headers == {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        }
        events.append(json.loads(base64.b64decode(json.loads(payload)["bytes"])))
    return events


def test_bedrock_invoke_with_response_stream_answers_event_stream_frames(api: StandIn) -> None:
    api.responder = Scripted(
        [Reply.tool_use("Read", {"file_path": "/x"}, usage=USAGE, tool_id="toolu_1")]
    )
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": USER}
    resp = post(api, BEDROCK_PATH + "/invoke-with-response-stream", body)
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/vnd.amazon.eventstream"
    assert resp.getheader("transfer-encoding") == "chunked"
    events = chunk_events(read_frames(resp.read()))
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["model"] == BEDROCK_MODEL
    assert events[-2]["usage"] == USAGE
    assert events[-1]["amazon-bedrock-invocationMetrics"] == {
        "inputTokenCount": 12,
        "outputTokenCount": 56,
        "invocationLatency": 1000,
        "firstByteLatency": 100,
    }
    (recorded,) = api.message_requests
    assert recorded.provider == "bedrock" and recorded.is_stream
    assert recorded.route is not None and recorded.route.model == BEDROCK_MODEL


def test_bedrock_frames_arrive_one_chunk_each_as_paced(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("paced", stream_duration_s=0.4, delta_pieces=1)])
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("POST", BEDROCK_PATH + "/invoke-with-response-stream", body=b"{}")
    resp = conn.getresponse()
    arrivals = []
    while chunk := resp.read1():  # http.client undoes the chunking, one chunk per read1 here
        arrivals.append((time.monotonic(), chunk))
    frames = [f for _, chunk in arrivals for f in read_frames(chunk)]
    assert len(frames) == len(arrivals) == 7  # no frame split across chunks, none merged
    assert arrivals[-1][0] - arrivals[0][0] >= 0.3


def test_bedrock_invoke_is_json_and_errors_are_bedrock_shaped(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("plain", usage=USAGE), Reply.rate_limited()])
    resp = post(api, BEDROCK_PATH + "/invoke", {"messages": USER})
    assert resp.status == 200 and resp.getheader("content-type") == "application/json"
    message = json.loads(resp.read())
    assert message["content"] == [{"type": "text", "text": "plain"}]
    assert message["model"] == BEDROCK_MODEL and message["usage"] == USAGE
    resp = post(api, BEDROCK_PATH + "/invoke", {"messages": USER})
    assert resp.status == 429
    assert resp.getheader("x-amzn-errortype", "").startswith("ThrottlingException:")
    assert json.loads(resp.read()) == {"message": "Rate limited"}
    resp = post(api, BEDROCK_PATH + "/count-tokens", {"messages": USER})
    assert resp.status == 200 and "input_tokens" in json.loads(resp.read())


def test_bedrock_exception_frame_ends_the_stream(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("never finished", stream_error=True)])
    resp = post(api, BEDROCK_PATH + "/invoke-with-response-stream", {"messages": USER})
    frames = read_frames(resp.read())  # a clean end: the whole body arrives
    assert len(frames) == 4
    assert [e["type"] for e in chunk_events(frames[:3])] == [
        "message_start",
        "content_block_start",
        "ping",
    ]
    headers, payload = frames[-1]
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "throttlingException"
    assert json.loads(payload) == {"message": "stand-in throttlingException"}


def test_bedrock_stream_cut_in_the_middle_of_a_frame(api: StandIn) -> None:
    api.responder = Scripted([Reply.text("cut short", abort_after_events=2)])
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("POST", BEDROCK_PATH + "/invoke-with-response-stream", body=b"{}")
    resp = conn.getresponse()
    received = b""
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        while chunk := resp.read1():
            received += chunk
    lengths, at = [], 0
    while at + 4 <= len(received):
        (total,) = struct.unpack(">I", received[at : at + 4])
        lengths.append(total)
        at += total
    assert len(lengths) == 3 and at > len(received)  # two whole frames, then part of a third
    whole = received[: lengths[0] + lengths[1]]
    assert [e["type"] for e in chunk_events(read_frames(whole))] == [
        "message_start",
        "content_block_start",
    ]
