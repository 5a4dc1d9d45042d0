"""Turn one HTTP exchange into the capture record (the JSON in a capture file).

The addon copies what it needs off a flow into the immutable snapshots below,
on mitmproxy's event loop, and hands them to the writer process. Everything
here is a pure function of those snapshots, run in the writer process, off
the proxy's hot path: decoding, JSON parsing, SSE reassembly and redaction.
The record format is documented once, in README.md ("Capture file format").
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from mitmproxy.net import encoding as mitm_encoding

from capture import bedrock, providers, sse
from glass import jsonio
from glass.config import ProviderName
from glass.contract import REDACTED

logger = logging.getLogger("glass.capture")

SECRET_WORDS = frozenset(
    {
        "authorization",
        "auth",
        "key",
        "apikey",
        "token",
        "secret",
        "cookie",
        "password",
        "passwd",
        "credential",
        "credentials",
        "signature",
    }
)
"""A header whose name has one of these words (between - or _) holds a credential:
x-api-key, authorization, proxy-authorization, cookie, set-cookie, but also
gateway headers such as x-portkey-api-key, cf-aig-authorization, helicone-auth
or x-amz-security-token. (anthropic-ratelimit-tokens-* says "tokens", and Bedrock's
x-amzn-bedrock-*-token-count are counts: kept.)"""

SECRET_PREFIXES = ("bearer ", "basic ", "aws4-hmac-sha256", "ya29.", "absk", "bedrock-api-key-")
"""Lower-cased starts of header values that are credentials under any header name: HTTP
bearer and basic logins (AWS_BEARER_TOKEN_BEDROCK, Google OAuth access tokens), an AWS SigV4
signature, a bare Google access token (`ya29.`), Bedrock API keys (long-term `ABSK…`, short-term
`bedrock-api-key-…`)."""
BEDROCK_STREAM = "application/vnd.amazon.eventstream"
"""The content type of Bedrock's `invoke-with-response-stream` answer (capture/bedrock.py)."""

Headers = tuple[tuple[str, str], ...]
_WORDS = re.compile(r"[-_.]")


@dataclass(frozen=True, kw_only=True)
class RequestSnapshot:
    started: float
    """Epoch seconds of the request's first byte at the proxy."""
    method: str
    url: str
    """The URL the client asked for, query included."""
    headers: Headers
    raw: bytes
    """The body as it came off the wire (possibly content-encoded)."""
    provider: ProviderName = "anthropic"
    """The `capture.providers` entry that matched."""


@dataclass(frozen=True, kw_only=True)
class ResponseSnapshot:
    status: int
    headers: Headers
    raw: bytes
    streamed: bool
    ttfb_ms: float | None
    duration_ms: float | None
    truncated: bool = False
    """The proxy kept only the first part of an oversized streamed body."""


def request_record(snap: RequestSnapshot) -> dict[str, Any]:
    """The part of a capture known as soon as the request has passed."""
    record: dict[str, Any] = {
        "captured_at": datetime.fromtimestamp(snap.started)
        .astimezone()
        .isoformat(timespec="milliseconds"),
        "method": snap.method,
        "url": redact_url(snap.url),
        "provider": snap.provider,
        "model": None,
        "headers": redact(snap.headers),
    }
    body, text, problem = _parse_json_body(snap.raw, _header(snap.headers, "content-encoding"))
    if problem:
        logger.warning("request body of %s kept as text: %s", record["url"], problem)
        record["request_text"] = text
    else:
        record["request"] = body
    named = body.get("model") if isinstance(body, dict) else None
    path = urlsplit(snap.url).path
    record["model"] = named if isinstance(named, str) and named else providers.model_of(path)
    return record


def response_record(snap: ResponseSnapshot) -> dict[str, Any]:
    """The `response` object of a capture."""
    out: dict[str, Any] = {
        "status": snap.status,
        "headers": redact(snap.headers),
        "body": None,
        "streamed": snap.streamed,
        "ttfb_ms": _ms(snap.ttfb_ms),
        "duration_ms": _ms(snap.duration_ms),
    }
    content_encoding = _header(snap.headers, "content-encoding")
    content_type = (_header(snap.headers, "content-type") or "").lower()
    if snap.truncated:
        out["truncated"] = True
    if BEDROCK_STREAM in content_type:
        try:
            data = decode_content(snap.raw, content_encoding)
        except (ValueError, zlib.error) as e:  # what decode_content raises: decode the raw bytes
            out["stream_problems"] = [f"cannot undo content-encoding {content_encoding!r}: {e}"]
            data = snap.raw
        return out | _bedrock_fields(bedrock.reassemble(data), out.get("stream_problems", []))
    if "text/event-stream" in content_type:
        text, problem = decode_text(snap.raw, content_encoding)
        result = sse.reassemble(text) if not problem else None
        if result is None or result.message is None:
            out["body_text"] = text
            problem = problem or "no message_start in the stream"
            logger.warning("stream kept as raw text: %s", problem)
        else:
            out["body"] = result.message
            out["complete"] = result.complete
            if result.error is not None:
                out["stream_error"] = result.error
            if result.problems:
                out["stream_problems"] = result.problems[:20]
        return out
    body, text, problem = _parse_json_body(snap.raw, content_encoding)
    if problem and snap.raw:
        out["body_text"] = text
    elif not problem:
        out["body"] = body
    return out


def _bedrock_fields(stream: bedrock.BedrockStream, problems: list[str]) -> dict[str, Any]:
    """The `response` keys of a reassembled Bedrock event stream."""
    result = stream.result
    problems = problems + result.problems
    out: dict[str, Any] = {}
    if result.message is None:
        problems.append("no message_start in the stream")
        out["body_text"] = "\n".join(stream.payloads)
        logger.warning("Bedrock stream kept as its frames' payloads: no message_start")
    else:
        out["body"] = result.message
    out["complete"] = result.complete
    if stream.metrics is not None:
        out[bedrock.METRICS_KEY] = stream.metrics
    if result.error is not None:
        out["stream_error"] = result.error
    if problems:
        out["stream_problems"] = problems[:20]
    return out


def is_event_stream(content_type: str) -> bool:
    """An answer to pass on chunk by chunk: SSE, or Bedrock's AWS event stream."""
    return "text/event-stream" in content_type or BEDROCK_STREAM in content_type


def error_record(message: str) -> dict[str, Any]:
    return {"message": message}


def is_secret(header_name: str) -> bool:
    words = _WORDS.split(header_name.lower())
    if words[-2:] == ["token", "count"]:
        return False  # a figure, not a credential: x-amzn-bedrock-input-token-count
    return any(word in SECRET_WORDS for word in words)


def looks_like_credential(value: str) -> bool:
    """A value that is a credential whatever its header is called (a gateway's own names)."""
    return value.lstrip().lower().startswith(SECRET_PREFIXES)


def redact(headers: Headers) -> dict[str, str]:
    """Headers as a dict (repeated names joined with ", "), credentials replaced."""
    out: dict[str, str] = {}
    for name, value in headers:
        if is_secret(name) or looks_like_credential(value):
            value = REDACTED
        if name in out and value != REDACTED:
            value = f"{out[name]}, {value}"
        out[name] = value
    return out


def redact_url(url: str) -> str:
    """The URL with the values of credential query parameters replaced: a presigned SigV4 URL's
    `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`, Google's `key=`, any name
    with a secret word (`accessToken` too), and any value that looks like a credential (`ya29.…`,
    `Bearer …`); `&` and `;` both separate parameters."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pieces = _QUERY_SEPARATORS.split(parts.query)  # fields, with their separators between
    for i in range(0, len(pieces), 2):
        name, sep, value = pieces[i].partition("=")
        if looks_like_credential(unquote_plus(value if sep else name)):
            pieces[i] = f"{name}={REDACTED}" if sep else REDACTED
        elif sep and is_secret(_CAMEL.sub("-", unquote_plus(name))):
            pieces[i] = f"{name}={REDACTED}"
    return urlunsplit(parts._replace(query="".join(pieces)))


_QUERY_SEPARATORS = re.compile(r"([&;])")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
"""Where a camelCase name has a word boundary (`accessToken` -> `access-Token`)."""


def decode_text(raw: bytes, content_encoding: str | None) -> tuple[str, str | None]:
    """Undo content-encoding and UTF-8; returns (text, problem or None).

    Never raises: what cannot be decoded is returned as lossy text together
    with a description of the problem, so nothing is dropped.
    """
    problem = None
    data = raw
    try:
        data = decode_content(raw, content_encoding)
    except (ValueError, zlib.error) as e:  # what decode_content raises: keep the raw bytes
        problem = f"cannot undo content-encoding {content_encoding!r}: {e}"
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError as e:
        return data.decode("utf-8", errors="replace"), problem or f"not UTF-8: {e.reason}"


def decode_content(raw: bytes, content_encoding: str | None) -> bytes:
    """Undo a Content-Encoding chain (e.g. "gzip" or "gzip, br").

    gzip and deflate are decoded incrementally, so a stream cut short still
    yields everything that arrived. Raises zlib.error or ValueError (an unknown
    encoding, or mitmproxy's decoders failing on br, zstd, ...).
    """
    if not content_encoding:
        return raw
    data = raw
    for enc in reversed([e.strip().lower() for e in content_encoding.split(",") if e.strip()]):
        if enc in ("identity", "none"):
            continue
        if enc in ("gzip", "x-gzip"):
            data = zlib.decompressobj(wbits=47).decompress(data)
        elif enc == "deflate":
            try:
                data = zlib.decompressobj().decompress(data)
            except zlib.error:
                data = zlib.decompressobj(wbits=-15).decompress(data)
        elif enc in mitm_encoding.custom_decode:
            # mitmproxy's decode() turns every codec's own error type into ValueError
            decoded = mitm_encoding.decode(data, enc)
            if not isinstance(decoded, bytes):  # its codecs map bytes to bytes
                raise ValueError(f"{enc!r} decoded to text")
            data = decoded
        else:
            raise ValueError(f"unknown encoding {enc!r}")
    return data


def _parse_json_body(raw: bytes, content_encoding: str | None) -> tuple[Any, str, str | None]:
    """(parsed JSON, text, problem). On a problem the text is what to keep."""
    if not raw:
        return None, "", "empty body"
    text, problem = decode_text(raw, content_encoding)
    if problem:
        return None, text, problem
    try:
        return jsonio.loads_exact(text), text, None
    except ValueError as e:
        return None, text, f"not JSON: {e}"


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def header_pairs(fields: Iterable[tuple[bytes, bytes]]) -> Headers:
    """mitmproxy's raw header fields as str pairs (latin-1, like HTTP/1)."""
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in fields)
