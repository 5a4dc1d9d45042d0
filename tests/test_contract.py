"""The capture file contract, end to end: what the real addon writes is what README.md's
"Capture file format" tables say, and what the analyzer's reader reads.

The key tables are parsed out of README.md, so the README and the code cannot drift
apart silently: every key a file has is in the table, every key the table lists turns
up in one of the exchanges below, the keys the table does not make conditional are
always there, and every value has the table's type. The files are written by the
real addon (`capture/addon.py`, driven by mitmproxy's `taddons`/`tflow`, its real
writer child process) and found and parsed by `analyze.captures`. A test may import
both stages; production code may not.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from analyze import captures as reader
from capture import addon as capture_addon
from capture.record import BEDROCK_STREAM
from glass.contract import CAPTURE_NAME, DAY_FOLDER, REDACTED
from tests import corpus
from tests import eventstream_frames as frames

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


# -- the README's tables -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Key:
    name: str
    type: str
    meaning: str

    @property
    def conditional(self) -> bool:
        """The table says when the key is there ("only when…", "instead of…", "present
        once…", or a first sentence that says "when"); the others are always there."""
        first = self.meaning.split(". ", 1)[0]
        return bool(
            re.match(r"(only|instead of|present once)\b", self.meaning) or " when " in first
        )

    @property
    def instead_of(self) -> str | None:
        """The key this one replaces ("instead of `request`"): exactly one of the two."""
        m = re.match(r"instead of `(\w+)`", self.meaning)
        return m.group(1) if m else None


def readme_tables() -> dict[str, dict[str, Key]]:
    """The key tables of README.md's "Capture file format": the top level and `response`."""
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## Capture file format\n(.*?)^## ", text, re.M | re.S)
    assert m, "README.md has no '## Capture file format' section"
    section = m.group(1)
    tables: dict[str, dict[str, Key]] = {}
    # The top-level table, then each nested object's, introduced by a "`name`:" line.
    pattern = r"^(?:`(\w+)`:\n\n)?(\| key \| type \| meaning \|\n(?:\|.*\n)+)"
    for owner, body in re.findall(pattern, section, re.M):
        keys = {}
        for row in body.splitlines()[2:]:
            cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
            assert len(cells) == 3, f"README row is not | key | type | meaning |: {row}"
            name = cells[0].strip("`")
            keys[name] = Key(name=name, type=cells[1], meaning=cells[2])
        tables[owner or "top level"] = keys
    assert set(tables) == {"top level", "response"}, sorted(tables)
    return tables


TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "string or null": lambda v: v is None or isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "any": lambda v: True,
    "object or null": lambda v: v is None or isinstance(v, dict),
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "`true`": lambda v: v is True,
}


def check_against(table: dict[str, Key], doc: dict[str, Any], *, where: str) -> list[str]:
    """What in `doc` disagrees with `table` (empty: nothing)."""
    problems = [f"{where}: key {k!r} is not in README's table" for k in doc if k not in table]
    for key in table.values():
        if key.name in doc:
            value = doc[key.name]
            if key.type not in TYPES:
                problems.append(f"README type {key.type!r} of {key.name!r} is not known here")
            elif not TYPES[key.type](value):
                problems.append(f"{where}.{key.name} is not {key.type}: {value!r:.80}")
        if key.instead_of is not None and (key.name in doc) == (key.instead_of in doc):
            problems.append(f"{where}: not exactly one of {key.instead_of!r}, {key.name!r}")
        required = not key.conditional and not any(
            other.instead_of == key.name for other in table.values()
        )
        if required and key.name not in doc:
            problems.append(f"{where}: required key {key.name!r} is missing")
    return problems


def test_the_readme_tables_parse_into_what_the_contract_test_needs():
    """A guard for the parser itself: it must find the tables and their conditions."""
    tables = readme_tables()
    top, response = tables["top level"], tables["response"]
    assert {"captured_at", "method", "url", "headers", "request", "response"} <= set(top)
    assert {"status", "headers", "body", "streamed", "ttfb_ms", "duration_ms"} <= set(response)
    assert [k for k in top.values() if k.conditional] == [
        top["request_text"],
        top["response"],
        top["error"],
    ]
    assert top["request_text"].instead_of == "request"
    assert not response["body"].conditional and response["complete"].conditional


# -- the exchanges, through the real addon --------------------------------------------------

SSE = corpus.MAIN_TURN_SSE.read_bytes()
BODY = {
    "model": "claude-sonnet-4",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "Grüße"}],
}


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


MESSAGE_START = event(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_x",
            "type": "message",
            "role": "assistant",
            "content": [],
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    },
)
STREAM_ERROR = MESSAGE_START + event(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
)
STREAM_WITH_PROBLEM = (
    MESSAGE_START
    + event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 4, "delta": {"type": "text_delta", "text": "?"}},
    )
    + event("message_stop", {"type": "message_stop"})
)


COUNT_TOKENS = "/v1/messages/count_tokens"


BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
BEDROCK_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
BEDROCK_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}


def request_flow(
    *,
    body: bytes | dict = BODY,
    path: str = "/v1/messages?beta=true",
    gzipped: bool = False,
    host: str = "api.anthropic.com",
) -> http.HTTPFlow:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-api-key", b"sk-ant-api03-secret"),
        (b"anthropic-version", b"2023-06-01"),
    ]
    if gzipped:
        raw = gzip.compress(raw)
        headers.append((b"content-encoding", b"gzip"))
    now = time.time()
    req = tutils.treq(
        method=b"POST",
        host=host,
        port=443,
        scheme=b"https",
        authority=b"",
        path=path.encode(),
        headers=http.Headers(headers),
        content=raw,
        timestamp_start=now,
        timestamp_end=now,
    )
    return tflow.tflow(req=req, resp=False)


def respond(
    cap: capture_addon.Capture,
    f: http.HTTPFlow,
    *,
    status: int = 200,
    content_type: str = "application/json",
    body: bytes = b"",
    stream: bool = False,
    error: str | None = None,
) -> None:
    """The response hooks in mitmproxy's order; a stream goes through the addon's tee."""
    f.response = tutils.tresp(
        status_code=status,
        content=None if stream else body,
        headers=http.Headers(
            [(b"content-type", content_type.encode()), (b"set-cookie", b"session=abc")]
        ),
        timestamp_start=f.request.timestamp_start + 0.25,
        timestamp_end=f.request.timestamp_start + 0.5,
    )
    cap.responseheaders(f)
    if stream:
        assert callable(f.response.stream)
        for i in range(0, len(body), 200):
            f.response.stream(body[i : i + 200])
        f.response.stream(b"")
    if error is None:
        cap.response(f)
    else:
        f.error = tflow.terr(error)
        cap.error(f)


def run_exchanges(cap: capture_addon.Capture) -> int:
    """Every shape of exchange the README's tables describe; returns how many."""
    sent: list[http.HTTPFlow] = []

    def send(request: http.HTTPFlow) -> None:
        sent.append(request)
        cap.request(request)

    def exchange(request: http.HTTPFlow, **response: Any) -> None:
        send(request)
        respond(cap, request, **response)

    def stream(body: bytes, *, error: str | None = None) -> None:
        exchange(
            request_flow(), content_type="text/event-stream", body=body, stream=True, error=error
        )

    answer = {"id": "msg_1", "type": "message", "content": [], "usage": {"input_tokens": 1}}
    exchange(  # a JSON answer to a gzip-encoded request
        request_flow(body={**BODY, "stream": False}, gzipped=True),
        body=json.dumps(answer).encode(),
    )
    stream(SSE)  # complete
    stream(SSE[: len(SSE) // 2], error="connection reset")  # cut, and the flow failed
    stream(STREAM_ERROR)  # an error event
    stream(STREAM_WITH_PROBLEM)  # an event that cannot be applied
    with pytest.MonkeyPatch.context() as patch:  # a stream beyond the size kept
        patch.setattr(capture_addon, "MAX_STREAM_BYTES", len(SSE) // 3)
        stream(SSE)
    exchange(  # neither body is JSON
        request_flow(body=b"model=x&not json"),
        status=502,
        content_type="text/html",
        body=b"<h1>Bad gateway</h1>",
    )
    exchange(
        request_flow(body={"model": "claude-sonnet-4", "messages": []}, path=COUNT_TOKENS),
        body=b'{"input_tokens": 12}',
    )
    for body in (  # Bedrock: a whole event stream with its metrics; one ending in an exception
        frames.from_sse(SSE, metrics=frames.METRICS),
        frames.from_sse(SSE)[:-10] + frames.exception_frame("throttlingException", "slow down"),
    ):
        exchange(
            request_flow(body=BEDROCK_BODY, path=BEDROCK_PATH, host=BEDROCK_HOST),
            content_type=BEDROCK_STREAM,
            body=body,
            stream=True,
        )
    failed = request_flow()  # failed before any response
    send(failed)
    failed.error = tflow.terr("connection refused")
    cap.error(failed)
    send(request_flow())  # no answer yet
    cap.flush()
    return len(sent)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """The exchanges, written once for the tests below (they only read the files)."""
    root = tmp_path_factory.mktemp("contract") / "captures"
    cap = capture_addon.Capture()
    with taddons.context(cap) as tctx:
        tctx.configure(cap, capture_dir=str(root))
        count = run_exchanges(cap)
        cap.done()
    yield root, count


def read_back(root: Path) -> list[tuple[reader.CaptureRef, dict[str, Any]]]:
    return [(ref, reader.read_capture(ref.path)) for ref in reader.iter_captures(root)]


def test_the_analyzer_finds_every_file_the_addon_wrote(written):
    root, count = written
    on_disk = sorted(p for p in root.rglob("*") if p.is_file())
    refs = list(reader.iter_captures(root))
    assert sorted(ref.path for ref in refs) == on_disk and len(refs) == count
    assert all(DAY_FOLDER.match(p.parent.name) and CAPTURE_NAME.match(p.name) for p in on_disk)
    days = sorted({ref.day for ref in refs})  # one, unless the test ran across midnight
    numbers = [[ref.number for ref in refs if ref.day == day] for day in days]
    assert numbers == [list(range(1, len(n) + 1)) for n in numbers]
    assert {ref.endpoint for ref in refs} == {"messages", "count_tokens"}


def test_every_file_has_the_readme_keys_with_the_readme_types(written):
    root, _ = written
    tables = readme_tables()
    problems = []
    for ref, doc in read_back(root):
        problems += check_against(tables["top level"], doc, where=ref.rel)
        if isinstance(doc.get("response"), dict):
            problems += check_against(
                tables["response"], doc["response"], where=f"{ref.rel} response"
            )
    assert problems == []


def test_every_key_the_readme_lists_is_written_by_some_exchange(written):
    root, _ = written
    tables = readme_tables()
    docs = [doc for _, doc in read_back(root)]
    seen_top = {key for doc in docs for key in doc}
    seen_response = {key for doc in docs for key in doc.get("response") or {}}
    assert set(tables["top level"]) - seen_top == set()
    assert set(tables["response"]) - seen_response == set()


def test_what_the_tables_say_in_words_holds(written):
    """The conditions the README states in prose, checked on the same files."""
    root, _ = written
    docs = [doc for _, doc in read_back(root)]
    for doc in docs:
        hosts = {
            "anthropic": "https://api.anthropic.com/v1/",
            "bedrock": f"https://{BEDROCK_HOST}/",
        }
        assert doc["method"] == "POST" and doc["url"].startswith(hosts[doc["provider"]])
        named = doc["request"].get("model") if "request" in doc else None
        bedrock_model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        assert doc["model"] == (named or (bedrock_model if doc["provider"] == "bedrock" else None))
        assert doc["headers"]["x-api-key"] == REDACTED
        response = doc.get("response")
        if response is None:
            continue
        assert response["headers"]["set-cookie"] == REDACTED
        assert ("complete" in response) == response["streamed"]  # only for an event stream
        if "body_text" in response:
            assert response["body"] is None
        if "error" in doc and response["streamed"]:
            assert response["complete"] is False  # a response had started: what arrived
    assert any("error" in doc and "response" not in doc for doc in docs)
    assert sum(not reader.has_ended(doc) for doc in docs) == 1  # the one with no answer yet
