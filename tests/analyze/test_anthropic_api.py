"""The `anthropic` backend: the real SDK over real HTTP against the local stand-in.

Nothing here mocks the SDK or HTTP. Faults (429, 529, 5xx, resets, hangs, too
large, 401) are real answers of `tests.standin.StandIn`. Waits between the
backend's own retries go to an injected `sleep` that records them, and most
tests turn the SDK's own retries off (`sdk_max_retries=0`) so that every fault
reaches the backend's retry layer and nothing really sleeps; one test keeps the
SDK's retries on and makes them fast with `retry-after-ms`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from analyze.backends.anthropic_api import AnthropicBackend
from analyze.backends.base import (
    INSTRUCTIONS,
    RECORD_MEMORIES_TOOL,
    TOOL_NAME,
    BackendError,
    Candidate,
    KnownMemory,
)
from glass.contract import ANALYZER_HEADER
from glass.tokens import Tokens
from tests.standin import ForcedToolResponder, Reply, Scripted, StandIn

MODEL = "claude-haiku-5-5"
DIGEST = "USER: please always use tabs\nASSISTANT: Noted, tabs it is."
KNOWN = [KnownMemory(id="mem_0001", text="The project uses Python 3.13.", kind="fact")]
MEMORIES = {
    "memories": [
        {"text": "The user wants tabs for indentation.", "kind": "preference"},
        {
            "text": "The project targets Python 3.13 only.",
            "kind": "decision",
            "supersedes": ["mem_0001"],
        },
    ]
}
EXPECTED = [
    Candidate(text="The user wants tabs for indentation.", kind="preference"),
    Candidate(
        text="The project targets Python 3.13 only.", kind="decision", supersedes=("mem_0001",)
    ),
]
USAGE = {
    "input_tokens": 812,
    "cache_creation_input_tokens": 640,
    "cache_read_input_tokens": 128,
    "output_tokens": 57,
}


def answer(tool_input: dict[str, Any] | None = None, **options: Any) -> Reply:
    """The stand-in's successful answer: one forced `record_memories` call."""
    return Reply.tool_use(TOOL_NAME, MEMORIES if tool_input is None else tool_input, **options)


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn() as standin:
        yield standin


@pytest.fixture
def waits() -> list[float]:
    return []


def make_backend(api: StandIn, waits: list[float], **overrides: Any) -> AnthropicBackend:
    options: dict[str, Any] = {
        "model": MODEL,
        "api_key": "sk-ant-test",
        "base_url": api.url,
        "max_output_tokens": 1234,
        "timeout_s": 5.0,
        "max_retries": 3,
        "sleep": waits.append,
        "sdk_max_retries": 0,
    }
    options.update(overrides)
    return AnthropicBackend(**options)


def extract(backend: AnthropicBackend):
    return backend.extract(digest=DIGEST, known=KNOWN)


# -- the request and the answer -------------------------------------------------------


def test_request_has_the_contract_shape_and_answer_is_parsed(api, waits):
    api.responder = lambda request: answer(usage=USAGE)
    client = httpx2.Client(trust_env=False, timeout=5)
    backend = make_backend(api, waits, http_client=client)

    result = extract(backend)

    assert result.memories == EXPECTED
    assert result.usage == Tokens.from_usage(USAGE)
    assert (result.model, result.attempts, result.cost_usd) == (MODEL, 1, None)
    (request,) = api.requests
    body = request.body
    assert request.path == "/v1/messages"
    assert request.headers[ANALYZER_HEADER] == "1"
    assert body["model"] == MODEL
    assert body["max_tokens"] == 1234
    assert "temperature" not in body
    assert "stream" not in body or body["stream"] is False
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"] == [RECORD_MEMORIES_TOOL]
    assert body["system"] == [
        {"type": "text", "text": INSTRUCTIONS, "cache_control": {"type": "ephemeral"}}
    ]
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert "[mem_0001] (fact) The project uses Python 3.13." in message["content"]
    assert message["content"].endswith(DIGEST)
    assert not client.is_closed  # a client passed in stays the caller's


def test_missing_cache_counts_are_zero(api, waits):
    api.responder = lambda request: answer(
        usage={
            "input_tokens": 10,
            "output_tokens": 3,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": None,
        }
    )

    result = extract(make_backend(api, waits))

    assert result.usage == Tokens(input=10, output=3)


def test_malformed_entries_are_dropped(api, waits):
    api.responder = ForcedToolResponder(
        lambda request: {
            "memories": [
                {"text": "Kept.", "kind": "fact"},
                {"text": "   ", "kind": "fact"},
                {"text": "Unknown kind.", "kind": "gossip"},
                "not an object",
                {"kind": "fact"},
                {"text": "Odd supersedes.", "kind": "convention", "supersedes": "mem_0001"},
            ]
        }
    )

    result = extract(make_backend(api, waits))

    assert result.memories == [
        Candidate(text="Kept.", kind="fact"),
        Candidate(text="Odd supersedes.", kind="convention"),
    ]


def test_tool_input_without_memories_list_is_an_error_with_usage(api, waits):
    api.responder = lambda request: answer({"notes": []}, usage=USAGE)

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits))

    assert "memories" in caught.value.message
    assert not caught.value.retryable
    assert caught.value.usage == Tokens.from_usage(USAGE)
    assert len(api.requests) == 1


def test_answer_without_tool_use_is_an_error(api, waits):
    api.responder = lambda request: Reply.text("I would rather chat.", usage=USAGE)

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits))

    assert TOOL_NAME in caught.value.message
    assert not caught.value.retryable and not caught.value.too_large
    assert caught.value.usage == Tokens.from_usage(USAGE)
    assert waits == []


# -- faults that end in success ---------------------------------------------------------


def test_rate_limit_waits_the_servers_retry_after(api, waits, caplog):
    api.responder = Scripted([Reply.rate_limited(retry_after=7), answer()])
    caplog.set_level(logging.WARNING, logger="glass.analyze")

    result = extract(make_backend(api, waits))

    assert result.memories == EXPECTED
    assert result.attempts == 2
    assert waits == [7.0]
    (record,) = [r for r in caplog.records if r.name == "glass.analyze"]
    assert record.levelno == logging.WARNING
    assert "429" in record.getMessage() and "7.0s" in record.getMessage()


@pytest.mark.parametrize(
    "status, err_type",
    [
        (529, "overloaded_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
    ],
)
def test_server_errors_are_retried_with_backoff(api, waits, status, err_type):
    failure = Reply.error(status, err_type, f"upstream trouble {status}")
    api.responder = Scripted([failure, failure, answer()])

    result = extract(make_backend(api, waits))

    assert result.memories == EXPECTED
    assert result.attempts == 3
    assert len(api.requests) == 3
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0  # base 1s, exponential, jittered


def test_sdk_retries_run_underneath_the_backends_own(api, waits):
    fast_529 = Reply.error(529, "overloaded_error", "Overloaded", headers={"retry-after-ms": "1"})
    api.responder = Scripted([fast_529] * 3 + [answer()])
    backend = make_backend(api, waits, sdk_max_retries=2)

    started = time.monotonic()
    result = extract(backend)

    assert time.monotonic() - started < 2
    assert result.attempts == 2  # the SDK's three tries were one attempt of ours
    assert len(api.requests) == 4
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2", "0"]
    assert len(waits) == 1


def test_timeout_is_retried(api, waits):
    api.responder = Scripted([Reply.hang(5), answer()])
    backend = make_backend(api, waits, timeout_s=0.3)

    started = time.monotonic()
    result = extract(backend)

    assert result.memories == EXPECTED
    assert result.attempts == 2
    assert time.monotonic() - started < 2
    assert len(waits) == 1


def test_connection_reset_is_retried(api, waits):
    api.responder = Scripted([Reply.reset(), Reply.reset(), answer()])

    result = extract(make_backend(api, waits))

    assert result.memories == EXPECTED
    assert result.attempts == 3
    assert len(waits) == 2


# -- faults that end in an error ---------------------------------------------------------


def test_retries_exhausted_raise_the_apis_message(api, waits):
    api.responder = Scripted([Reply.overloaded(message="Overloaded, try later")])

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits, max_retries=2))

    error = caught.value
    assert error.retryable and error.status == 529
    assert "Overloaded, try later" in error.message
    assert len(api.requests) == 3
    assert len(waits) == 2


def test_rate_limit_error_carries_retry_after(api, waits):
    api.responder = Scripted([Reply.rate_limited(retry_after=3, message="Slow down")])

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits, max_retries=0))

    assert (caught.value.status, caught.value.retry_after, caught.value.retryable) == (
        429,
        3.0,
        True,
    )
    assert "Slow down" in caught.value.message


@pytest.mark.parametrize(
    "reply",
    [
        Reply.request_too_large(),
        Reply.prompt_too_long(),
        Reply.error(
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000",
        ),
    ],
    ids=["413", "400-prompt-too-long", "400-exceeds-context"],
)
def test_too_large_is_not_retried(api, waits, reply):
    api.responder = Scripted([reply])
    backend = make_backend(api, waits, sdk_max_retries=2)  # the SDK does not retry it either

    with pytest.raises(BackendError) as caught:
        extract(backend)

    assert caught.value.too_large and not caught.value.retryable
    assert caught.value.status == reply.status
    assert reply.error_message in caught.value.message
    assert len(api.requests) == 1
    assert waits == []


def test_other_bad_request_is_not_too_large(api, waits):
    api.responder = Scripted(
        [Reply.error(400, "invalid_request_error", "max_tokens: must be positive")]
    )

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits))

    assert not caught.value.too_large and not caught.value.retryable
    assert "max_tokens: must be positive" in caught.value.message


def test_auth_error_is_not_retried(api, waits):
    api.responder = Scripted([Reply.error(401, "authentication_error", "invalid x-api-key")])

    with pytest.raises(BackendError) as caught:
        extract(make_backend(api, waits, sdk_max_retries=2))

    error = caught.value
    assert (error.status, error.retryable, error.too_large) == (401, False, False)
    assert "invalid x-api-key" in error.message
    assert len(api.requests) == 1
    assert waits == []


# -- the analyzer's calls never go through a proxy ----------------------------------------


class Listener:
    """A TCP port that counts the connections it gets and hangs up on them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy_env(monkeypatch) -> Iterator[Listener]:
    listener = Listener()
    url = f"http://127.0.0.1:{listener.port}"
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield listener
    listener.close()


def test_default_client_ignores_proxy_variables(api, waits, proxy_env):
    api.responder = lambda request: answer()
    backend = make_backend(api, waits)  # the default httpx2 client

    result = extract(backend)
    backend.close()

    assert result.memories == EXPECTED
    assert len(api.requests) == 1
    assert proxy_env.connections == 0


def test_control_a_default_httpx_client_would_use_the_proxy(api, proxy_env):
    with httpx2.Client(timeout=2) as client, pytest.raises(httpx2.HTTPError):
        client.post(f"{api.url}/v1/messages", json={})

    assert proxy_env.connections >= 1
    assert len(api.requests) == 0
