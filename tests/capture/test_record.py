"""capture/record.py: the capture record built from request/response snapshots."""

import gzip
import json
import logging
import zlib

import brotli
import pytest

try:  # the standard library's from 3.14; the declared backport before that
    from compression import zstd
except ImportError:
    from backports import zstd

from capture import record
from tests import corpus

BODY = {"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "Grüße 👋"}]}


def req(raw: bytes, headers=(), url="https://api.anthropic.com/v1/messages?beta=true"):
    return record.RequestSnapshot(
        started=1_764_000_000.5, method="POST", url=url, headers=tuple(headers), raw=raw
    )


def resp(raw: bytes, headers=(), streamed=False):
    return record.ResponseSnapshot(
        status=200,
        headers=tuple(headers),
        raw=raw,
        streamed=streamed,
        ttfb_ms=12.34,
        duration_ms=56.78,
    )


def test_request_record_keys_and_redaction():
    headers = [
        ("X-Api-Key", "sk-ant-secret"),
        ("Authorization", "Bearer abc"),
        ("proxy-authorization", "Basic x"),
        ("Cookie", "a=b"),
        ("anthropic-beta", "x"),
        ("anthropic-beta", "y"),
    ]
    rec = record.request_record(req(json.dumps(BODY).encode(), headers))
    assert list(rec) == ["captured_at", "method", "url", "provider", "model", "headers", "request"]
    assert (rec["provider"], rec["model"]) == ("anthropic", BODY["model"])
    assert rec["url"].endswith("/v1/messages?beta=true")
    assert rec["captured_at"].endswith(("+00:00", "Z")) or rec["captured_at"][-6] in "+-"
    assert rec["headers"] == {
        "X-Api-Key": "[REDACTED]",
        "Authorization": "[REDACTED]",
        "proxy-authorization": "[REDACTED]",
        "Cookie": "[REDACTED]",
        "anthropic-beta": "x, y",
    }
    assert "secret" not in json.dumps(rec)
    assert rec["request"] == BODY


@pytest.mark.parametrize(
    "name,secret",
    [
        ("x-api-key", True),
        ("X-Goog-Api-Key", True),
        ("x-portkey-api-key", True),
        ("cf-aig-authorization", True),
        ("Helicone-Auth", True),
        ("x-amz-security-token", True),
        ("Set-Cookie", True),
        ("proxy-authorization", True),
        ("x-client-secret", True),
        ("anthropic-ratelimit-tokens-remaining", False),
        ("X-Claude-Code-Session-Id", False),
        ("anthropic-beta", False),
        ("content-type", False),
        ("x-stainless-os", False),
    ],
)
def test_credential_headers_are_recognised_by_their_words(name, secret):
    assert record.is_secret(name) is secret


def test_response_redacts_set_cookie():
    out = record.response_record(resp(b"{}", [("Set-Cookie", "s=1"), ("set-cookie", "t=2")]))
    assert out["headers"] == {"Set-Cookie": "[REDACTED]", "set-cookie": "[REDACTED]"}


@pytest.mark.parametrize(
    "encoding,encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", zstd.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
def test_compressed_request_bodies_are_decoded(encoding, encode):
    raw = encode(json.dumps(BODY).encode())
    rec = record.request_record(req(raw, [("content-encoding", encoding)]))
    assert rec["request"] == BODY


def test_non_json_request_is_kept_as_text_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="glass.capture"):
        rec = record.request_record(req(b"model=x&not json"))
    assert "request" not in rec and rec["request_text"] == "model=x&not json"
    assert "kept as text" in caplog.text


def test_binary_request_is_kept_lossy_never_dropped():
    rec = record.request_record(req(b"\xff\xfe\x00binary"))
    assert rec["request_text"].endswith("binary")


def test_broken_gzip_is_kept_not_raised():
    rec = record.request_record(req(b"not gzip at all", [("content-encoding", "gzip")]))
    assert rec["request_text"] == "not gzip at all"


@pytest.mark.parametrize("encoding", ["br", "zstd", "x-unknown", "gzip, br"])
def test_a_body_its_codec_cannot_decode_is_kept_as_text(encoding):
    rec = record.request_record(req(b"not compressed", [("content-encoding", encoding)]))
    assert "request" not in rec and rec["request_text"] == "not compressed"


def test_json_response_body():
    out = record.response_record(
        resp(b'{"id":"msg_1","usage":{"input_tokens":1}}', [("content-type", "application/json")])
    )
    assert out == {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": {"id": "msg_1", "usage": {"input_tokens": 1}},
        "streamed": False,
        "ttfb_ms": 12.3,
        "duration_ms": 56.8,
    }


def test_gzip_event_stream_is_decoded_then_reassembled():
    raw = gzip.compress(corpus.MAIN_TURN_SSE.read_bytes())
    out = record.response_record(
        resp(
            raw,
            [("Content-Type", "text/event-stream; charset=utf-8"), ("Content-Encoding", "gzip")],
            streamed=True,
        )
    )
    assert out["streamed"] and out["complete"]
    assert out["body"]["content"][1]["name"] == "TodoWrite"


def test_cut_gzip_stream_still_yields_the_part_that_arrived():
    whole = gzip.compress(corpus.MAIN_TURN_SSE.read_bytes())
    raw = whole[: len(whole) // 3]
    out = record.response_record(
        resp(
            raw,
            [("content-type", "text/event-stream"), ("content-encoding", "gzip")],
            streamed=True,
        )
    )
    assert out["body"]["id"].startswith("msg_") and out["complete"] is False


def test_stream_that_cannot_be_reassembled_keeps_raw_text():
    out = record.response_record(
        resp(b"data: nonsense\n\n", [("content-type", "text/event-stream")], streamed=True)
    )
    assert out["body"] is None and out["body_text"] == "data: nonsense\n\n"


def test_html_error_page_is_kept_as_text():
    out = record.response_record(
        resp(b"<html>502 Bad Gateway</html>", [("content-type", "text/html")])
    )
    assert out["body"] is None and out["body_text"].startswith("<html>")


def test_empty_response_body():
    out = record.response_record(resp(b""))
    assert out["body"] is None and "body_text" not in out
