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
from tests import eventstream_frames as frames

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
        ("x-amzn-bedrock-input-token-count", False),
        ("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", False),
        ("x-token-count-secret", True),
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


def test_a_body_nested_deeper_than_json_can_read_is_kept_as_text():
    deep = b"[" * 100_000 + b"]" * 100_000
    out = record.response_record(resp(deep, [("content-type", "application/json")]))
    assert out["body"] is None and out["body_text"] == deep.decode()


def test_empty_response_body():
    out = record.response_record(resp(b""))
    assert out["body"] is None and "body_text" not in out


# -- providers: model from the URL, Bedrock streams, cloud credentials ---------------------

BEDROCK_URL = (
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
    "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
)
VERTEX_URL = (
    "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5/"
    "publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
)
CLOUD_BODY = {"anthropic_version": "vertex-2023-10-16", "stream": True, "messages": []}


@pytest.mark.parametrize(
    ("url", "provider", "model"),
    [
        (BEDROCK_URL, "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        (VERTEX_URL, "vertex", "claude-sonnet-4-5@20250929"),
    ],
)
def test_the_model_comes_from_the_url_when_the_body_has_none(url, provider, model):
    snap = record.RequestSnapshot(
        started=1.0,
        method="POST",
        url=url,
        headers=(),
        raw=json.dumps(CLOUD_BODY).encode(),
        provider=provider,
    )
    rec = record.request_record(snap)
    assert (rec["provider"], rec["model"], rec["request"]) == (provider, model, CLOUD_BODY)


def test_the_body_s_model_wins_and_none_is_null():
    named = {**CLOUD_BODY, "model": "claude-opus-4-8"}
    assert record.request_record(req(json.dumps(named).encode(), url=BEDROCK_URL))["model"] == (
        "claude-opus-4-8"
    )
    assert record.request_record(req(b"not json"))["model"] is None
    assert record.request_record(req(json.dumps({"model": 3}).encode()))["model"] is None


def test_a_bedrock_stream_is_reassembled_with_its_metrics():
    sse_body = corpus.MAIN_TURN_SSE.read_bytes()
    raw = frames.from_sse(sse_body, metrics=frames.METRICS)
    out = record.response_record(
        resp(raw, [("content-type", record.BEDROCK_STREAM)], streamed=True)
    )
    expected = record.response_record(
        resp(sse_body, [("content-type", "text/event-stream")], streamed=True)
    )
    assert out["body"] == expected["body"] and out["body"]["usage"]["output_tokens"] > 0
    assert out["complete"] is True and out["amazon-bedrock-invocationMetrics"] == frames.METRICS
    assert "stream_problems" not in out and "stream_error" not in out


def test_a_throttled_bedrock_stream_keeps_the_exception():
    raw = frames.exception_frame("throttlingException", "Too many requests")
    out = record.response_record(
        resp(raw, [("content-type", record.BEDROCK_STREAM)], streamed=True)
    )
    assert out["body"] is None and out["complete"] is False
    assert out["stream_error"] == {"type": "throttlingException", "message": "Too many requests"}
    assert out["stream_problems"] == ["no message_start in the stream"]
    assert out["body_text"] == '{"message": "Too many requests"}'


def test_a_gzipped_bedrock_stream_cut_mid_way_keeps_what_arrived():
    raw = gzip.compress(frames.from_sse(corpus.MAIN_TURN_SSE.read_bytes()))[:-30]
    out = record.response_record(
        resp(
            raw,
            [("content-type", record.BEDROCK_STREAM), ("content-encoding", "gzip")],
            streamed=True,
        )
    )
    assert out["body"]["content"] and out["complete"] is False
    assert any("stream cut mid-frame" in p for p in out["stream_problems"])


SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/bedrock/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
)


def test_cloud_credentials_are_redacted_and_the_content_hash_stays():
    headers = [
        ("Authorization", SIGV4),
        ("X-Amz-Security-Token", "IQoJb3JpZ2luX2VjE…"),
        ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb924"),
        ("x-amz-date", "20260101T000000Z"),
        ("authorization", "Bearer ABSKQmVkcm9ja0FQSUtleS1example"),  # AWS_BEARER_TOKEN_BEDROCK
        ("x-upstream", "Bearer ya29.a0AfB_byC-google-oauth"),  # under a name of no secret word
        ("x-forwarded-sig", "AWS4-HMAC-SHA256 Credential=AKIA…"),
        ("x-goog-token-ish", "ya29.a0AfB_bare"),
        ("x-bedrock", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t"),
        ("x-goog-user-project", "proj"),
    ]
    out = record.redact(tuple(headers))
    kept = {"x-amz-content-sha256", "x-amz-date", "x-goog-user-project"}
    assert {k for k, v in out.items() if v != record.REDACTED} == kept
    assert all(v != record.REDACTED for k, v in headers if k in kept)


def test_credential_query_parameters_are_redacted_in_the_url():
    url = (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke?X-Amz-Algorithm=AWS4"
        "&X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=abc&X-Amz-Security-Token=tok&flag&key=AIza"
    )
    rec = record.request_record(req(json.dumps(BODY).encode(), url=url))
    assert rec["url"] == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke?X-Amz-Algorithm=AWS4"
        "&X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]"
        "&X-Amz-Security-Token=[REDACTED]&flag&key=[REDACTED]"
    )
    assert record.redact_url("https://api.anthropic.com/v1/messages?beta=true") == (
        "https://api.anthropic.com/v1/messages?beta=true"
    )


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("accessToken=s3cr3t&beta=true", "accessToken=[REDACTED]&beta=true"),
        ("a=1;key=s3cr3t", "a=1;key=[REDACTED]"),
        ("x=ya29.s3cr3t", "x=[REDACTED]"),
        ("x=Bearer%20ABSKs3cr3t", "x=[REDACTED]"),
        ("ABSKs3cr3t", "[REDACTED]"),
        ("tokens=5&sessionId=abc", "tokens=5&sessionId=abc"),
    ],
)
def test_credentials_anywhere_in_the_query_are_redacted(query, kept):
    base = "https://gw.example/v1/messages?"
    assert record.redact_url(base + query) == base + kept
