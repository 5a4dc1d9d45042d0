"""A local stand-in for the Anthropic Messages API, for tests and benchmarks.

What it emulates
================
:class:`StandIn` runs a real HTTP/1.1 server (``http.server.ThreadingHTTPServer``,
keep-alive, one thread per connection) on ``127.0.0.1`` and a free port. Clients
talk to it exactly as they would talk to ``https://api.anthropic.com`` (minus TLS):
point the official SDK, Claude Code (``ANTHROPIC_BASE_URL``) or a proxy at
:attr:`StandIn.url`.

Routes:

* ``POST /v1/messages`` (any query string, e.g. ``?beta=true``) -- answered by the
  *responder* (see below). A :meth:`Reply.message` is rendered as a JSON Message
  unless the request body has ``"stream": true``, in which case it becomes a real
  Server-Sent-Events stream: ``Transfer-Encoding: chunked``, one chunk flushed per
  event, framed ``event: <type>\\ndata: <json>\\n\\n``, in the same order as the real
  API (``message_start``, per block ``content_block_start`` / deltas /
  ``content_block_stop`` with a ``ping`` after the first block start,
  ``message_delta`` carrying the cumulative usage, ``message_stop``).
* ``POST /v1/messages/count_tokens`` -- ``{"input_tokens": len(body) // 4}``.
* Google Vertex AI, as Claude Code sends it with ``CLAUDE_CODE_USE_VERTEX=1``:
  ``POST /v1/projects/<project>/locations/<region>/publishers/anthropic/models/<model>``
  ``:streamRawPredict`` (always the SSE stream) and ``:rawPredict`` (always the JSON
  Message); the body has no ``model``, the URL's ``<model>`` is the Message's model.
  ``models/count-tokens:rawPredict`` counts tokens as above.
* Amazon Bedrock, as Claude Code sends it with ``CLAUDE_CODE_USE_BEDROCK=1``:
  ``POST /model/<model id>/invoke-with-response-stream`` (always an AWS event stream:
  ``application/vnd.amazon.eventstream``, one binary frame per Messages stream event,
  each ``{"bytes": base64(event)}`` with ``:event-type: chunk``, built by
  ``tests/eventstream_frames.py``; the ``message_stop`` event carries
  ``amazon-bedrock-invocationMetrics``) and ``/model/<model id>/invoke`` (the JSON
  Message). The model id is percent-decoded (``...-v1%3A0`` is ``...-v1:0``).
  ``/model/<model id>/count-tokens`` counts tokens. Errors are Bedrock-shaped:
  ``{"message": ...}`` with an ``x-amzn-ErrorType`` header.
* anything else -- ``404`` with an Anthropic-shaped ``not_found_error``.

:func:`route` tells which of these a path is (provider, endpoint, the URL's model, and
whether the path itself decides streaming); :attr:`Recorded.provider` says it per request.

Request bodies are read by ``Content-Length`` or ``Transfer-Encoding: chunked`` and
decoded from ``Content-Encoding`` gzip / deflate (and zstd when the standard library
has it); other encodings are kept raw. Every request -- whatever the route -- is
appended to :attr:`StandIn.requests` as a :class:`Recorded`.

Scripting it
============
A *responder* is any callable ``(Recorded) -> Reply``; it can be swapped at any
time through :attr:`StandIn.responder`. Ready-made responders:

* :class:`Scripted` -- replies in order, then keeps repeating the last one;
* :class:`ClaudeCodeResponder` -- drives the real Claude Code CLI through one
  ``Read`` tool call and a final answer;
* :class:`ForcedToolResponder` -- answers forced ``tool_choice`` requests.

Replies (:class:`Reply`):

* ``Reply.message(content, stop_reason=..., usage=..., model=..., headers=...,
  event_interval_s=..., stream_duration_s=..., gzip=..., abort_after_events=...,
  stream_error=...)`` and the shortcut ``Reply.text("...")``;
* ``Reply.error(status, err_type, message)`` plus shortcuts (``rate_limited``,
  ``overloaded``, ``api_error``, ``request_too_large``, ``prompt_too_long``);
* ``Reply.reset()`` -- the TCP connection is closed with a RST, no response at all;
* ``Reply.hang(seconds, then=...)`` -- sleep before answering (client timeouts);
* ``Reply.raw(status, body, headers=...)`` -- arbitrary bytes.

Example::

    with StandIn() as api:
        api.responder = Scripted([Reply.rate_limited(), Reply.text("hi")])
        client = anthropic.Anthropic(api_key="test", base_url=api.url,
                                     http_client=httpx2.Client(trust_env=False))
        ...
        assert api.requests[-1].query == "beta=true"

As a process (benchmarks, manual poking)::

    python -m tests.standin --port 0 [--stream-seconds 2.0] [--text-bytes N]

prints ``READY <port>`` on stdout and serves until SIGTERM / SIGINT.

Only the standard library (and ``tests/eventstream_frames.py``, itself standard
library only) is used here so that benchmarks and subprocesses can import this
module cheaply.
"""

from __future__ import annotations

import argparse
import gzip as gzip_module
import http.server
import itertools
import json
import math
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from tests.eventstream_frames import CONTENT_TYPE as EVENT_STREAM_CONTENT_TYPE
from tests.eventstream_frames import chunk_frame, exception_frame

try:  # Python 3.14+
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    _zstd = None

_DECODE_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error) + (
    (_zstd.ZstdError,) if _zstd is not None else ()
)
"""What a body that is not what its Content-Encoding says raises (the stand-in keeps it raw)."""

__all__ = [
    "DEFAULT_TEXT",
    "DEFAULT_USAGE",
    "ClaudeCodeResponder",
    "ForcedToolResponder",
    "Recorded",
    "Reply",
    "RequestLog",
    "Responder",
    "Route",
    "Scripted",
    "StandIn",
    "main",
    "route",
]

DEFAULT_USAGE: dict[str, Any] = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 20,
}
DEFAULT_TEXT = "Hello from the stand-in."
DEFAULT_MODEL = "claude-standin"

# --------------------------------------------------------------------------- #
# Routes: which provider's endpoint a path is
# --------------------------------------------------------------------------- #

Provider = Literal["anthropic", "vertex", "bedrock"]

_VERTEX_PATH = re.compile(
    r"^/v1(?:beta1)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<method>rawPredict|streamRawPredict)$"
)
_BEDROCK_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<method>invoke|invoke-with-response-stream|count-tokens)$"
)


@dataclass(frozen=True, kw_only=True)
class Route:
    """One API endpoint the stand-in answers.

    ``stream`` is ``None`` when the body's ``"stream"`` decides (first-party API), else
    whether the path itself streams (Vertex ``:streamRawPredict``, Bedrock
    ``/invoke-with-response-stream``). ``model`` is the URL's model, percent-decoded.
    """

    provider: Provider
    endpoint: Literal["messages", "count_tokens"]
    model: str | None = None
    stream: bool | None = None


def route(method: str, path: str) -> Route | None:
    """The endpoint ``method path`` (no query string) asks for, or ``None`` (a 404)."""
    if method != "POST":
        return None
    if path == "/v1/messages":
        return Route(provider="anthropic", endpoint="messages")
    if path == "/v1/messages/count_tokens":
        return Route(provider="anthropic", endpoint="count_tokens")
    if found := _VERTEX_PATH.match(path):
        model = unquote(found["model"])
        if model == "count-tokens":
            return Route(provider="vertex", endpoint="count_tokens")
        stream = found["method"] == "streamRawPredict"
        return Route(provider="vertex", endpoint="messages", model=model, stream=stream)
    if found := _BEDROCK_PATH.match(path):
        model = unquote(found["model"])
        if found["method"] == "count-tokens":
            return Route(provider="bedrock", endpoint="count_tokens", model=model)
        stream = found["method"] == "invoke-with-response-stream"
        return Route(provider="bedrock", endpoint="messages", model=model, stream=stream)
    return None


# --------------------------------------------------------------------------- #
# Recorded requests
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """One request as the stand-in received it.

    ``headers`` has lower-case names (repeated headers joined with ``", "``).
    ``raw`` is the request content after de-chunking and, where the standard
    library can, content-decoding; ``wire`` is the content before content-decoding.
    ``body`` is ``raw`` parsed as JSON, or ``None`` if it is not JSON.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    time: float
    wire: bytes = b""

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string parsed with :func:`urllib.parse.parse_qs`."""
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def route(self) -> Route | None:
        """The endpoint this request asked for (``None``: it was answered 404)."""
        return route(self.method, self.path)

    @property
    def provider(self) -> Provider | None:
        """``anthropic``, ``vertex`` or ``bedrock``, from the path (``None``: a 404)."""
        found = self.route
        return found.provider if found is not None else None

    @property
    def is_stream(self) -> bool:
        """True when the answer is a stream: the path says so (Vertex, Bedrock), else the
        JSON body asks for ``"stream": true``."""
        found = self.route
        if found is not None and found.stream is not None:
            return found.stream
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def is_messages(self) -> bool:
        """True for a Messages call on any provider: ``POST /v1/messages`` (any query
        string), Vertex ``:rawPredict``/``:streamRawPredict``, Bedrock ``/invoke...``."""
        found = self.route
        return found is not None and found.endpoint == "messages"


class RequestLog:
    """A thread-safe, append-only list of :class:`Recorded` requests."""

    def __init__(self) -> None:
        self._items: list[Recorded] = []
        self._cond = threading.Condition()

    def append(self, item: Recorded) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def snapshot(self) -> list[Recorded]:
        """A copy of the current list."""
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, *, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests are recorded (or time out)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) >= count, timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> Recorded:
        with self._cond:
            return self._items[index]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"RequestLog({self.snapshot()!r})"


# --------------------------------------------------------------------------- #
# Replies
# --------------------------------------------------------------------------- #

ReplyKind = Literal["message", "error", "reset", "hang", "raw"]


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What the stand-in should answer; build it with the class-method constructors.

    Message options (ignored by the other kinds):

    * ``event_interval_s`` -- sleep between SSE events;
    * ``stream_duration_s`` -- spread the SSE events evenly over this many seconds
      (the first one is sent at once; overrides ``event_interval_s``);
    * ``gzip`` -- ``Content-Encoding: gzip``; for SSE one gzip stream flushed with
      ``Z_SYNC_FLUSH`` after every event;
    * ``abort_after_events`` -- send this many SSE events, then reset the
      connection (for JSON: send the headers and half the body, then reset; for a
      Bedrock event stream: this many frames and the first half of the next one, then a
      FIN instead of a reset, so that the client surely reads the half frame);
    * ``stream_error`` -- error type (``True`` means ``overloaded_error``) of an
      ``event: error`` sent after ``stream_error_after`` events; the stream then
      ends cleanly, as the real API does. Ignored for JSON replies;
    * ``delta_pieces`` -- how many delta events per text / tool input / thinking.
    """

    kind: ReplyKind
    # message
    content: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = "end_turn"
    usage: dict[str, Any] | None = None
    model: str | None = None
    event_interval_s: float = 0.0
    stream_duration_s: float | None = None
    gzip: bool = False
    abort_after_events: int | None = None
    stream_error: bool | str = False
    stream_error_after: int = 3
    delta_pieces: int = 3
    # error / raw
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    body: bytes = b""
    # hang
    seconds: float = 0.0
    then: Reply | None = None
    # all
    headers: dict[str, str] = field(default_factory=dict)

    # -- messages ----------------------------------------------------------- #

    @classmethod
    def message(
        cls,
        content: Sequence[dict[str, Any]],
        *,
        stop_reason: str | None = "end_turn",
        usage: dict[str, Any] | None = None,
        model: str | None = None,
        headers: dict[str, str] | None = None,
        event_interval_s: float = 0.0,
        stream_duration_s: float | None = None,
        gzip: bool = False,
        abort_after_events: int | None = None,
        stream_error: bool | str = False,
        stream_error_after: int = 3,
        delta_pieces: int = 3,
    ) -> Reply:
        """A Message with these content blocks (JSON, or SSE if the request streams).

        ``usage`` defaults to :data:`DEFAULT_USAGE`, ``model`` to the request's model.
        """
        return cls(
            kind="message",
            content=tuple(dict(block) for block in content),
            stop_reason=stop_reason,
            usage=dict(usage) if usage is not None else None,
            model=model,
            headers=dict(headers or {}),
            event_interval_s=event_interval_s,
            stream_duration_s=stream_duration_s,
            gzip=gzip,
            abort_after_events=abort_after_events,
            stream_error=stream_error,
            stream_error_after=stream_error_after,
            delta_pieces=delta_pieces,
        )

    @classmethod
    def text(cls, text: str = DEFAULT_TEXT, **options: Any) -> Reply:
        """Shortcut for ``Reply.message([{"type": "text", "text": text}], **options)``."""
        return cls.message([{"type": "text", "text": text}], **options)

    @classmethod
    def tool_use(
        cls, name: str, tool_input: dict[str, Any], *, tool_id: str | None = None, **options: Any
    ) -> Reply:
        """Shortcut for a single ``tool_use`` block with stop_reason ``tool_use``."""
        block: dict[str, Any] = {"type": "tool_use", "name": name, "input": tool_input}
        if tool_id is not None:
            block["id"] = tool_id
        options.setdefault("stop_reason", "tool_use")
        return cls.message([block], **options)

    # -- errors ------------------------------------------------------------- #

    @classmethod
    def error(
        cls, status: int, err_type: str, message: str, *, headers: dict[str, str] | None = None
    ) -> Reply:
        """An HTTP error with an Anthropic-shaped JSON body."""
        return cls(
            kind="error",
            status=status,
            error_type=err_type,
            error_message=message,
            headers=dict(headers or {}),
        )

    @classmethod
    def rate_limited(cls, *, retry_after: float | int = 1, message: str = "Rate limited") -> Reply:
        """``429 rate_limit_error`` with a ``retry-after`` header."""
        return cls.error(
            429, "rate_limit_error", message, headers={"retry-after": str(retry_after)}
        )

    @classmethod
    def overloaded(cls, *, message: str = "Overloaded") -> Reply:
        """``529 overloaded_error``."""
        return cls.error(529, "overloaded_error", message)

    @classmethod
    def api_error(cls, *, message: str = "Internal server error") -> Reply:
        """``500 api_error``."""
        return cls.error(500, "api_error", message)

    @classmethod
    def request_too_large(
        cls, *, message: str = "Request exceeds the maximum allowed size"
    ) -> Reply:
        """``413 request_too_large``."""
        return cls.error(413, "request_too_large", message)

    @classmethod
    def prompt_too_long(cls, *, tokens: int = 210_000, maximum: int = 200_000) -> Reply:
        """``400 invalid_request_error`` "prompt is too long"."""
        return cls.error(
            400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {maximum} maximum"
        )

    # -- transport-level ---------------------------------------------------- #

    @classmethod
    def reset(cls) -> Reply:
        """Close the TCP connection abruptly (RST, ``SO_LINGER`` 0) without a response."""
        return cls(kind="reset")

    @classmethod
    def hang(cls, seconds: float, *, then: Reply | None = None) -> Reply:
        """Sleep ``seconds`` (cut short when the stand-in stops), then answer ``then``

        (default: ``Reply.text()``)."""
        return cls(kind="hang", seconds=seconds, then=then)

    @classmethod
    def raw(cls, status: int, body: bytes, *, headers: dict[str, str] | None = None) -> Reply:
        """Arbitrary bytes with ``Content-Length`` (set ``content-type`` in headers)."""
        return cls(kind="raw", status=status, body=body, headers=dict(headers or {}))


Responder = Callable[[Recorded], Reply]


# --------------------------------------------------------------------------- #
# Responders
# --------------------------------------------------------------------------- #


class Scripted:
    """Returns ``replies`` in order, then keeps returning the last one."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        if not replies:
            raise ValueError("Scripted needs at least one reply")
        self.replies: list[Reply] = list(replies)
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        with self._lock:
            index = min(self.calls, len(self.replies) - 1)
            self.calls += 1
            return self.replies[index]


NOTES_TEXT = "The blue heron nests by the old mill; Grüße from the notes file.\n"
NOTES_SUMMARY = "SUMMARY: a heron nests by the old mill."
NOTES_PROMPT = "Read the file notes.txt and summarise it"


@dataclass(frozen=True, kw_only=True)
class NotesTask:
    """The real CLI's usual test session: in `project`, with an empty `home`, `NOTES_PROMPT`
    makes it Read `notes` (the stand-in asks for it) and answer `NOTES_SUMMARY`."""

    project: Path
    home: Path
    notes: Path
    responder: ClaudeCodeResponder


def notes_task(tmp: Path) -> NotesTask:
    """`tmp/project` with notes.txt, `tmp/home`, and the ClaudeCodeResponder for them."""
    project, home = tmp / "project", tmp / "home"
    project.mkdir()
    home.mkdir()
    notes = project / "notes.txt"
    notes.write_text(NOTES_TEXT, encoding="utf-8")
    responder = ClaudeCodeResponder(read_path=str(notes), final_text=NOTES_SUMMARY)
    return NotesTask(project=project, home=home, notes=notes, responder=responder)


def _last_user_blocks(body: Any) -> list[Any]:
    """The content blocks of the last ``user`` message of a Messages request body."""
    if not isinstance(body, dict):
        return []
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return [{"type": "text", "text": content}]
            return list(content) if isinstance(content, list) else []
    return []


class ClaudeCodeResponder:
    """Emulates a model well enough to drive the real Claude Code CLI.

    * requests without ``tools`` (side calls: titles, quota probes, topic checks)
      get a short JSON-ish text;
    * main-loop requests with ``tools`` get a ``Read`` of ``read_path``
      (stop_reason ``tool_use``) unless the last user message already carries a
      ``tool_result``, in which case they get ``final_text`` (``end_turn``).
    """

    SIDE_TEXT = '{"isNewTopic": false, "title": "Stand-in"}'

    def __init__(self, read_path: str, final_text: str, **options: Any) -> None:
        self.read_path = read_path
        self.final_text = final_text
        self.options = options  # extra Reply.message options (usage, gzip, ...)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if not body.get("tools"):
            return Reply.text(self.SIDE_TEXT, **self.options)
        if any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in _last_user_blocks(body)
        ):
            return Reply.text(self.final_text, **self.options)
        with self._lock:
            tool_id = f"toolu_standin_{next(self._ids):06d}"
        return Reply.tool_use(
            "Read", {"file_path": self.read_path}, tool_id=tool_id, **self.options
        )


class ForcedToolResponder:
    """Answers ``tool_choice {"type": "tool", "name": X}`` with one ``tool_use`` of X.

    The tool input is ``make_input(request)``; requests without a forced tool get a
    short text.
    """

    def __init__(
        self, make_input: Callable[[Recorded], dict[str, Any]], *, text: str = DEFAULT_TEXT
    ) -> None:
        self.make_input = make_input
        self.text = text

    def __call__(self, request: Recorded) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name"):
            return Reply.tool_use(str(choice["name"]), self.make_input(request))
        return Reply.text(self.text)


# --------------------------------------------------------------------------- #
# Rendering Messages as JSON and SSE
# --------------------------------------------------------------------------- #


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _pieces(text: str, count: int) -> list[str]:
    """Split ``text`` into about ``count`` non-empty pieces (none for empty text)."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {_dumps(event)}\n\n".encode()


def _url_model(recorded: Recorded) -> str | None:
    """The model a Vertex or Bedrock URL names (their bodies have none)."""
    found = recorded.route
    return found.model if found is not None else None


BEDROCK_METRICS = "amazon-bedrock-invocationMetrics"
"""The key Bedrock adds to the last stream event (``message_stop``)."""

_BEDROCK_ERRORS = {
    "rate_limit_error": "ThrottlingException",
    "overloaded_error": "ServiceUnavailableException",
    "api_error": "InternalServerException",
    "not_found_error": "ResourceNotFoundException",
}
"""Anthropic error types as Bedrock names them (``x-amzn-ErrorType``); others: validation."""


def _error_body(err_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": err_type, "message": message},
        "request_id": request_id,
    }


def _stream_events(message: dict[str, Any], *, pieces: int) -> list[dict[str, Any]]:
    """The SSE events of a complete Message, in the real API's order."""
    usage = dict(message["usage"])
    start_usage = dict(usage)
    start_usage["output_tokens"] = 1
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **message,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
    ]
    pinged = False
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        start: dict[str, Any]
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [
                {"type": "text_delta", "text": p} for p in _pieces(block.get("text", ""), pieces)
            ]
        elif kind in ("tool_use", "server_tool_use"):
            start = {**block, "input": {}}
            partial = _dumps(block.get("input", {}))
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in _pieces(partial, pieces)
            ]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p}
                for p in _pieces(block.get("thinking", ""), pieces)
            ]
            deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        else:  # redacted_thinking and anything else: the whole block in the start event
            start = dict(block)
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        if not pinged:
            events.append({"type": "ping"})
            pinged = True
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})
    if not pinged:
        events.append({"type": "ping"})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": usage,
        }
    )
    events.append({"type": "message_stop"})
    return events


# --------------------------------------------------------------------------- #
# The HTTP server
# --------------------------------------------------------------------------- #


class _ConnectionReset(Exception):
    """Raised inside the handler after the connection was deliberately reset."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: StandIn) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's socket.getfqdn(), which may do slow DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: disconnects and resets are part of the job."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StandIn/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    # -- plumbing ----------------------------------------------------------- #

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    # -- request ------------------------------------------------------------ #

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _decode(wire: bytes, encoding: str) -> bytes:
        data = wire
        for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
            try:
                if coding in ("gzip", "x-gzip"):
                    data = gzip_module.decompress(data)
                elif coding == "deflate":
                    try:
                        data = zlib.decompress(data)
                    except zlib.error:
                        data = zlib.decompress(data, -zlib.MAX_WBITS)
                elif coding == "zstd" and _zstd is not None:
                    data = _zstd.decompress(data)
                elif coding == "identity":
                    continue
                else:
                    return wire
            except _DECODE_ERRORS:
                return wire
        return data

    def _record(self) -> Recorded:
        wire = self._read_body()
        self._body_read = True
        raw = self._decode(wire, self.headers.get("Content-Encoding", "")) if wire else wire
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        parts = urlsplit(self.path)
        recorded = Recorded(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers=headers,
            body=body,
            raw=raw,
            time=time.time(),
            wire=wire,
        )
        self.server.standin.requests.append(recorded)
        return recorded

    # -- dispatch ----------------------------------------------------------- #

    def _dispatch(self) -> None:
        self._started = False  # whether a status line has been written
        self._body_read = False  # whether the request body has been consumed
        standin = self.server.standin
        request_id = standin._next_id("req_standin")
        try:
            recorded = self._record()
            found = recorded.route
            if found is not None and found.endpoint == "messages":
                self._reply(standin.responder(recorded), recorded, request_id)
            elif found is not None and found.endpoint == "count_tokens":
                self._send_json(200, {"input_tokens": len(recorded.raw) // 4}, request_id)
            else:
                self._send_json(
                    404,
                    _error_body(
                        "not_found_error",
                        f"{recorded.method} {recorded.path} not found",
                        request_id,
                    ),
                    request_id,
                )
        except (_ConnectionReset, ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug in a responder: log it, answer 500, keep serving
            traceback.print_exc()
            if self._started:  # too late for a status line: all we can do is hang up
                self.close_connection = True
                return
            # keep the connection alive only if the request body was consumed
            headers = {} if self._body_read else {"Connection": "close"}
            try:
                self._send_json(
                    500,
                    _error_body("api_error", f"stand-in error: {exc!r}", request_id),
                    request_id,
                    headers=headers,
                )
            except OSError:
                self.close_connection = True

    def _reply(self, reply: Reply, recorded: Recorded, request_id: str) -> None:
        bedrock = recorded.provider == "bedrock"
        if reply.kind == "message":
            if recorded.is_stream and bedrock:
                self._send_event_stream(reply, recorded, request_id)
            elif recorded.is_stream:
                self._send_stream(reply, recorded, request_id)
            else:
                self._send_message_json(reply, recorded, request_id)
        elif reply.kind == "error" and bedrock:
            kind = _BEDROCK_ERRORS.get(reply.error_type, "ValidationException")
            headers = {
                "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            }
            body = {"message": reply.error_message}
            self._send_json(reply.status, body, request_id, headers={**headers, **reply.headers})
        elif reply.kind == "error":
            body = _error_body(reply.error_type, reply.error_message, request_id)
            self._send_json(reply.status, body, request_id, headers=reply.headers)
        elif reply.kind == "reset":
            self._reset()
        elif reply.kind == "hang":
            self.server.standin._stopping.wait(reply.seconds)
            self._reply(reply.then or Reply.text(), recorded, request_id)
        elif reply.kind == "raw":
            self._send_bytes(reply.status, reply.body, request_id, headers=reply.headers)
        else:  # pragma: no cover - guarded by the Literal type
            raise ValueError(f"unknown reply kind {reply.kind!r}")

    # -- responses ---------------------------------------------------------- #

    def _start(self, status: int, request_id: str, headers: dict[str, str]) -> None:
        self._started = True
        self.send_response(status)
        self.send_header("request-id", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_bytes(
        self, status: int, data: bytes, request_id: str, *, headers: dict[str, str] | None = None
    ) -> None:
        self._start(status, request_id, {"Content-Length": str(len(data)), **(headers or {})})
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(
        self, status: int, obj: Any, request_id: str, *, headers: dict[str, str] | None = None
    ) -> None:
        merged = {"Content-Type": "application/json", **(headers or {})}
        self._send_bytes(status, _dumps(obj).encode(), request_id, headers=merged)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # drop the makefile() reference so close() is real
            sock.close()
        except OSError:
            pass
        raise _ConnectionReset

    def _hang_up(self) -> None:
        """End the connection in the middle of the answer with a FIN, not a RST: every
        byte sent so far reaches the client (a RST may discard what it has not read yet)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        raise _ConnectionReset

    def _build_message(self, reply: Reply, recorded: Recorded) -> dict[str, Any]:
        standin = self.server.standin
        body = recorded.body if isinstance(recorded.body, dict) else {}
        content: list[dict[str, Any]] = []
        for block in reply.content:
            block = dict(block)
            if block.get("type") in ("tool_use", "server_tool_use") and not block.get("id"):
                block["id"] = standin._next_id("toolu_standin")
            if block.get("type") == "thinking" and "signature" not in block:
                block["signature"] = "sig_standin"
            content.append(block)
        return {
            "id": standin._next_id("msg_standin"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or body.get("model") or _url_model(recorded) or DEFAULT_MODEL,
            "content": content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": dict(reply.usage if reply.usage is not None else DEFAULT_USAGE),
        }

    def _send_message_json(self, reply: Reply, recorded: Recorded, request_id: str) -> None:
        data = _dumps(self._build_message(reply, recorded)).encode()
        headers = {"Content-Type": "application/json"}
        if reply.gzip:
            data = gzip_module.compress(data)
            headers["Content-Encoding"] = "gzip"
        headers.update(reply.headers)
        if reply.abort_after_events is not None:
            self._start(200, request_id, {"Content-Length": str(len(data)), **headers})
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._reset()
        self._send_bytes(200, data, request_id, headers=headers)

    def _send_stream(self, reply: Reply, recorded: Recorded, request_id: str) -> None:
        events = _stream_events(self._build_message(reply, recorded), pieces=reply.delta_pieces)
        if reply.stream_error:
            err_type = (
                reply.stream_error if isinstance(reply.stream_error, str) else "overloaded_error"
            )
            events = events[: max(0, reply.stream_error_after)]
            events.append(
                _error_body(
                    err_type,
                    "Overloaded" if err_type == "overloaded_error" else err_type,
                    request_id,
                )
            )
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
        }
        compressor = None
        if reply.gzip:
            headers["Content-Encoding"] = "gzip"
            compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        headers.update(reply.headers)
        slots = len(events)
        cut = reply.abort_after_events is not None and reply.abort_after_events < slots
        pieces = [_sse(event) for event in events[: reply.abort_after_events]]
        if compressor is not None:
            pieces = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
            if not cut and pieces:
                pieces[-1] += compressor.flush(zlib.Z_FINISH)
        self._start(200, request_id, headers)
        self._paced(reply, pieces, slots=slots)
        if cut:
            self._reset()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_event_stream(self, reply: Reply, recorded: Recorded, request_id: str) -> None:
        """Bedrock's answer: one event-stream frame per Messages stream event, paced like SSE.

        ``abort_after_events``: that many frames, then the first half of the next one, then
        the connection is closed (a frame cut in the middle; a FIN, so that all of it arrives). ``stream_error``: after ``stream_error_after``
        frames an exception frame (``True``: ``throttlingException``), then the stream ends.
        """
        message = self._build_message(reply, recorded)
        events = _stream_events(message, pieces=reply.delta_pieces)
        usage = message["usage"]
        events[-1] = {
            **events[-1],
            BEDROCK_METRICS: {
                "inputTokenCount": usage.get("input_tokens", 0),
                "outputTokenCount": usage.get("output_tokens", 0),
                "invocationLatency": 1000,
                "firstByteLatency": 100,
            },
        }
        frames = [chunk_frame(event) for event in events]
        if reply.stream_error:
            kind = (
                reply.stream_error if isinstance(reply.stream_error, str) else "throttlingException"
            )
            frames = frames[: max(0, reply.stream_error_after)]
            frames.append(exception_frame(kind, f"stand-in {kind}"))
        cut = reply.abort_after_events is not None and reply.abort_after_events < len(frames)
        if cut:
            half = frames[reply.abort_after_events or 0]
            frames = [*frames[: reply.abort_after_events], half[: len(half) // 2]]
        headers = {
            "Content-Type": EVENT_STREAM_CONTENT_TYPE,
            "Transfer-Encoding": "chunked",
            "x-amzn-requestid": request_id,
            "x-amzn-bedrock-content-type": "application/json",
            **reply.headers,
        }
        self._start(200, request_id, headers)
        self._paced(reply, frames, slots=len(events))
        if cut:
            self._hang_up()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _paced(self, reply: Reply, pieces: list[bytes], *, slots: int) -> None:
        """Write each piece as one chunk, the first at once, the rest ``event_interval_s``
        apart, or ``stream_duration_s`` spread over ``slots`` pieces (a whole stream, of
        which a cut one sends fewer), sleeping until each one's slot (no drift), cut short
        when the stand-in stops."""
        interval = reply.event_interval_s
        if reply.stream_duration_s is not None:
            interval = reply.stream_duration_s / max(1, slots - 1)
        stopping = self.server.standin._stopping
        t0 = time.monotonic()
        for number, data in enumerate(pieces):
            if number and interval > 0:
                stopping.wait(max(0.0, t0 + number * interval - time.monotonic()))
            self._write_chunk(data)

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()


_INSTANCES = itertools.count(1)
"""How many StandIn objects this process made."""


class StandIn:
    """The stand-in server; a context manager, or call :meth:`start` / :meth:`stop`.

    Attributes: ``port``, ``url`` (``http://127.0.0.1:PORT``), ``requests`` (a
    :class:`RequestLog`) and ``responder`` (settable at any time; default: the
    text :data:`DEFAULT_TEXT`).
    """

    def __init__(
        self, responder: Responder | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.responder: Responder = responder or Scripted([Reply.text()])
        self.requests = RequestLog()
        self.host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._counters: dict[str, itertools.count[int]] = {}
        self._counter_lock = threading.Lock()
        self._instance = next(_INSTANCES)
        """Numbers this stand-in's ids apart from another's (the usage report keys by id)."""

    # -- lifecycle ---------------------------------------------------------- #

    def start(self) -> StandIn:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wake hangs and paced streams
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:  # unblock keep-alive readers
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- info --------------------------------------------------------------- #

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("StandIn is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def message_requests(self) -> list[Recorded]:
        """Only the ``POST /v1/messages`` requests."""
        return [r for r in self.requests if r.is_messages]

    def _next_id(self, prefix: str) -> str:
        """A deterministic id: ``<prefix>_000001``, ``<prefix>_000002``, ... per prefix, with
        ``<prefix>2_…`` for the second stand-in of the process and so on (ids stay unique)."""
        with self._counter_lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            tag = "" if self._instance == 1 else str(self._instance)
            return f"{prefix}{tag}_{next(counter):06d}"

    def __repr__(self) -> str:
        state = f"url={self.url}" if self._server is not None else "stopped"
        return f"<StandIn {state} requests={len(self.requests)}>"


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #


def _filler_text(size: int) -> str:
    """``size`` bytes of ASCII prose."""
    words = "The quick brown fox jumps over the lazy dog. "
    return (words * (size // len(words) + 1))[:size]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--stream-seconds",
        type=float,
        default=None,
        help="spread SSE events evenly over this many seconds (first one at t=0)",
    )
    parser.add_argument(
        "--text-bytes", type=int, default=None, help="answer this many bytes of text"
    )
    parser.add_argument(
        "--delta-pieces", type=int, default=3, help="text_delta events per text block"
    )
    args = parser.parse_args(argv)

    text = _filler_text(args.text_bytes) if args.text_bytes is not None else DEFAULT_TEXT
    reply = Reply.text(text, stream_duration_s=args.stream_seconds, delta_pieces=args.delta_pieces)
    standin = StandIn(Scripted([reply]), host=args.host, port=args.port).start()

    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"READY {standin.port}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
