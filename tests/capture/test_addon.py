"""capture/addon.py through mitmproxy's own test harness (taddons, tflow)."""

import json
import logging
import shutil
import stat
import time
from datetime import datetime
from pathlib import Path

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

from capture import addon as capture_addon
from tests import corpus
from tests import eventstream_frames as frames

BODY = {
    "model": "claude-sonnet-4",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "Grüße"}],
}
SSE = corpus.MAIN_TURN_SSE.read_bytes()


@pytest.fixture
def cap(tmp_path):
    a = capture_addon.Capture()
    with taddons.context(a) as tctx:
        tctx.configure(a, capture_dir=str(tmp_path / "captures"))
        yield a
        a.done()


def make_flow(
    *,
    method=b"POST",
    host="api.anthropic.com",
    path="/v1/messages?beta=true",
    body=BODY,
    headers=None,
    started=None,
) -> http.HTTPFlow:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = http.Headers(
        [(b"content-type", b"application/json"), (b"x-api-key", b"sk-ant-api03-secret")]
        + [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    )
    req = tutils.treq(
        method=method,
        host=host,
        port=443,
        scheme=b"https",
        authority=b"",
        path=path.encode(),
        headers=hdrs,
        content=raw,
        timestamp_start=started or time.time(),
        timestamp_end=started or time.time(),
    )
    return tflow.tflow(req=req, resp=False)


def json_response(obj, status=200):
    return tutils.tresp(
        status_code=status,
        content=json.dumps(obj).encode(),
        headers=http.Headers(content_type="application/json"),
    )


def files_in(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def test_request_is_written_as_soon_as_it_passes(cap, tmp_path):
    f = make_flow()
    cap.request(f)
    cap.flush()
    (path,) = files_in(tmp_path / "captures")
    day = datetime.now().strftime("%Y-%m-%d")
    assert (
        path.parent.name == day
        and path.name.startswith("001_")
        and path.name.endswith("_messages.json")
    )
    rec = json.loads(path.read_text(encoding="utf-8"))
    assert rec["url"] == "https://api.anthropic.com/v1/messages?beta=true"
    assert rec["request"] == BODY and rec["method"] == "POST"
    assert rec["headers"]["x-api-key"] == "[REDACTED]"
    assert "sk-ant" not in path.read_text()
    assert "response" not in rec and "error" not in rec
    assert "Grüße" in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_json_response_replaces_the_file_in_place(cap, tmp_path):
    f = make_flow(body={**BODY, "stream": False})
    cap.request(f)
    f.response = json_response({"id": "msg_1", "content": [], "usage": {"output_tokens": 3}})
    cap.responseheaders(f)
    assert not f.response.stream  # JSON is left to mitmproxy's buffering
    cap.response(f)
    cap.flush()
    (path,) = files_in(tmp_path / "captures")
    rec = json.loads(path.read_text())
    assert rec["response"]["status"] == 200
    assert rec["response"]["body"]["usage"] == {"output_tokens": 3}
    assert rec["response"]["streamed"] is False


def test_event_stream_is_teed_chunk_by_chunk(cap, tmp_path):
    f = make_flow()
    cap.request(f)
    f.response = tutils.tresp(content=None, headers=http.Headers(content_type="text/event-stream"))
    cap.responseheaders(f)
    assert callable(f.response.stream)
    chunks = [SSE[i : i + 97] for i in range(0, len(SSE), 97)]
    passed = [f.response.stream(c) for c in chunks] + [f.response.stream(b"")]
    assert passed[:-1] == chunks and passed[-1] == b""  # bytes reach the client unchanged
    cap.response(f)
    cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    resp = rec["response"]
    assert resp["streamed"] is True and resp["complete"] is True
    assert resp["body"]["content"][1]["input"]["todos"][0]["content"] == "Create weather folder"


def test_stream_composes_with_an_existing_stream_callable(cap, tmp_path):
    f = make_flow()
    cap.request(f)
    f.response = tutils.tresp(content=None, headers=http.Headers(content_type="text/event-stream"))
    f.response.stream = lambda chunk: chunk.upper()
    cap.responseheaders(f)
    assert f.response.stream(b"data: x\n\n") == b"DATA: X\n\n"


def test_failed_flow_records_error_and_the_part_of_the_stream_that_arrived(cap, tmp_path):
    f = make_flow()
    cap.request(f)
    f.response = tutils.tresp(content=None, headers=http.Headers(content_type="text/event-stream"))
    cap.responseheaders(f)
    f.response.stream(SSE[: len(SSE) // 2])
    f.error = tflow.terr("peer closed connection")
    cap.error(f)
    cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    assert rec["error"] == {"message": "peer closed connection"}
    assert rec["response"]["complete"] is False
    assert rec["response"]["body"]["content"][0]["type"] == "text"


def test_error_before_any_response(cap, tmp_path):
    f = make_flow()
    cap.request(f)
    f.error = tflow.terr("connection refused")
    cap.error(f)
    cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    assert rec["error"]["message"] == "connection refused" and "response" not in rec


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": b"GET"},
        {"host": "example.com"},
        {"path": "/v1/models"},
        {"path": "/v1/complete"},
        {"headers": {"X-Glass-Analyzer": "1"}},
    ],
)
def test_other_requests_are_not_captured(cap, tmp_path, kwargs):
    f = make_flow(**kwargs)
    cap.request(f)
    f.response = json_response({})
    cap.responseheaders(f)
    cap.response(f)
    cap.flush()
    assert files_in(tmp_path / "captures") == []


def test_a_request_the_proxy_answered_itself_is_not_captured(cap, tmp_path):
    """proxyauth's 407 (set in its requestheaders hook, before ours): never sent upstream."""
    f = make_flow()
    f.response = tutils.tresp(status_code=407, content=b"")
    cap.requestheaders(f)
    cap.request(f)
    cap.response(f)
    cap.flush()
    assert files_in(tmp_path / "captures") == []


def test_count_tokens_and_extra_hosts_paths(tmp_path):
    a = capture_addon.Capture()
    with taddons.context(a) as tctx:
        tctx.configure(
            a,
            capture_dir=str(tmp_path),
            capture_providers=["gateway API.example.org /v1/messages,/v2"],
        )
        for path in ("/v1/messages/count_tokens", "/v2/thing?x=1", "/v2x", "/v1/messagesX"):
            a.request(make_flow(host="api.example.org", path=path))
        a.request(make_flow())  # api.anthropic.com is no longer configured
        a.done()
    assert [p.name.split("_", 2)[2] for p in sorted(tmp_path.rglob("*.json"))] == [
        "count_tokens.json",
        "thing.json",
    ]


def test_mapped_host_is_recorded_as_the_host_the_client_asked_for(cap, tmp_path):
    # After --map-remote the request points at the stand-in; SNI still names the API.
    f = make_flow(host="127.0.0.1")
    f.request.port = 8999
    f.request.scheme = "http"
    f.client_conn.sni = "api.anthropic.com"
    cap.request(f)
    cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    assert rec["url"] == "http://api.anthropic.com:8999/v1/messages?beta=true"


def test_midnight_rollover_starts_a_new_day_folder(cap, tmp_path):
    before = datetime(2026, 11, 21, 23, 59, 59).timestamp()
    after = datetime(2026, 11, 22, 0, 0, 1).timestamp()
    for started in (before, before, after):
        cap.request(make_flow(started=started))
    cap.flush()
    names = [
        p.relative_to(tmp_path / "captures").as_posix() for p in files_in(tmp_path / "captures")
    ]
    assert names == [
        "2026-11-21/001_235959_messages.json",
        "2026-11-21/002_235959_messages.json",
        "2026-11-22/001_000001_messages.json",
    ]


def test_day_folder_deleted_while_running_is_recreated(cap, tmp_path):
    cap.request(make_flow())
    cap.flush()
    shutil.rmtree(files_in(tmp_path / "captures")[0].parent)
    cap.request(make_flow())
    cap.flush()
    assert len(files_in(tmp_path / "captures")) == 1


def test_numbering_continues_after_a_restart(tmp_path):
    for _ in range(2):
        a = capture_addon.Capture()
        with taddons.context(a) as tctx:
            tctx.configure(a, capture_dir=str(tmp_path))
            a.request(make_flow())
            a.request(make_flow())
            a.done()
    assert [p.name[:3] for p in sorted(tmp_path.rglob("*.json"))] == ["001", "002", "003", "004"]


def test_non_json_body_is_kept_and_flow_untouched(cap, tmp_path, caplog):
    f = make_flow(body=b"\x00\x01 not json")
    with caplog.at_level(logging.WARNING, logger="glass.capture"):
        cap.request(f)
        cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    assert rec["request_text"].endswith("not json")
    assert f.request.raw_content == b"\x00\x01 not json"


def test_unwritable_folder_logs_an_error_and_leaves_traffic_alone(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    a = capture_addon.Capture()
    with caplog.at_level(logging.ERROR, logger="glass.capture"), taddons.context(a) as tctx:
        tctx.configure(a, capture_dir=str(blocker / "captures"))  # a folder under a file
        f = make_flow()
        a.request(f)
        f.response = tutils.tresp(
            content=None, headers=http.Headers(content_type="text/event-stream")
        )
        a.responseheaders(f)
        assert f.response.stream(SSE) == SSE
        a.response(f)
        a.done()
    assert "could not write capture file" in caplog.text
    assert f.error is None and f.response.status_code == 200


def test_a_bug_in_a_hook_is_logged_and_swallowed(cap, monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(capture_addon.files, "endpoint_of", boom)
    with caplog.at_level(logging.ERROR, logger="glass.capture"):
        cap.request(make_flow())  # must not raise
    assert "flow continues untouched" in caplog.text


def test_bad_options_are_rejected(tmp_path):
    a = capture_addon.Capture()
    with taddons.context(a) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(a, capture_providers=["anthropic api.anthropic.com v1/messages"])
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(a, capture_providers=[])
        with pytest.raises(exceptions.OptionsError, match="name must be one of"):
            tctx.configure(a, capture_providers=["openai api.openai.com /v1/chat"])
        with pytest.raises(exceptions.OptionsError, match="NAME HOST"):
            tctx.configure(a, capture_providers=["anthropic api.anthropic.com"])
        a.done()


def test_loads_as_a_mitmproxy_script(tmp_path):
    with taddons.context() as tctx:
        module = tctx.script(str(Path(capture_addon.__file__)))
        (loaded,) = module.addons
        assert type(loaded).__name__ == "Capture"


def test_a_writer_that_died_is_restarted_and_the_exchange_still_ends_in_one_file(
    cap, tmp_path, caplog
):
    f = make_flow(body={**BODY, "stream": False})
    cap.request(f)
    cap.flush()
    (path,) = files_in(tmp_path / "captures")
    cap.writer.proc.kill()
    cap.writer.proc.wait()
    f.response = json_response({"id": "msg_1", "content": []})
    with caplog.at_level(logging.ERROR, logger="glass.capture"):
        cap.responseheaders(f)
        cap.response(f)
        cap.flush()
    assert "capture writer stopped" in caplog.text
    assert files_in(tmp_path / "captures") == [path]  # the same file, now complete
    assert json.loads(path.read_text())["response"]["body"]["id"] == "msg_1"


def test_the_writer_runs_apart_and_at_lower_priority(cap):
    import os

    assert cap.writer.proc.pid != os.getpid()
    if hasattr(os, "SCHED_IDLE"):  # Linux
        assert os.sched_getscheduler(cap.writer.proc.pid) == os.SCHED_IDLE
    else:
        assert os.getpriority(os.PRIO_PROCESS, cap.writer.proc.pid) > os.getpriority(
            os.PRIO_PROCESS, 0
        )


def test_a_request_write_skipped_under_backlog_still_ends_complete(cap, tmp_path, monkeypatch):
    from capture import writer

    monkeypatch.setattr(
        writer, "MAX_BACKLOG_BYTES", -1
    )  # "far behind": request-only writes skipped
    f = make_flow(body={**BODY, "stream": False})
    cap.request(f)
    cap.flush()
    assert files_in(tmp_path / "captures") == []
    f.response = json_response({"id": "msg_9", "content": []})
    cap.responseheaders(f)
    cap.response(f)
    cap.flush()
    (path,) = files_in(tmp_path / "captures")
    rec = json.loads(path.read_text())
    assert rec["request"] == {**BODY, "stream": False} and rec["response"]["body"]["id"] == "msg_9"


def test_changing_capture_dir_mid_exchange_still_completes_the_file(tmp_path):
    a = capture_addon.Capture()
    with taddons.context(a) as tctx:
        tctx.configure(a, capture_dir=str(tmp_path / "first"))
        f = make_flow(body={**BODY, "stream": False})
        a.request(f)
        a.flush()
        tctx.configure(a, capture_dir=str(tmp_path / "second"))  # e.g. mitmweb's option editor
        f.response = json_response({"id": "msg_2", "content": []})
        a.responseheaders(f)
        a.response(f)
        a.request(make_flow())
        a.done()
    (old,) = files_in(tmp_path / "first")
    assert json.loads(old.read_text())["response"]["body"]["id"] == "msg_2"
    assert len(files_in(tmp_path / "second")) == 1


def test_a_request_body_mitmproxy_streams_is_still_captured(cap, tmp_path):
    # With --set stream_large_bodies=1m, mitmproxy streams big requests and keeps no body.
    body = json.dumps({**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    f = make_flow(body=body)
    f.request.stream = True
    cap.requestheaders(f)
    assert callable(f.request.stream)
    for i in range(0, len(body), 1000):
        assert f.request.stream(body[i : i + 1000]) == body[i : i + 1000]
    f.request.stream(b"")
    f.request.content = None  # what mitmproxy holds for a streamed body
    cap.request(f)
    cap.flush()
    rec = json.loads(files_in(tmp_path / "captures")[0].read_text())
    assert rec["request"]["messages"][0]["content"] == "x" * 5000


def test_a_flow_ending_after_shutdown_is_logged_not_raised(tmp_path, caplog):
    a = capture_addon.Capture()
    with taddons.context(a) as tctx:
        tctx.configure(a, capture_dir=str(tmp_path / "captures"))
        f = make_flow(body={**BODY, "stream": False})
        a.request(f)
        a.done()  # mitmproxy shuts the addon down while the flow is still open
        f.response = json_response({"id": "msg_late", "content": []})
        with caplog.at_level(logging.WARNING, logger="glass.capture"):
            a.response(f)
    assert "ended after shutdown; not written" in caplog.text
    assert "failed" not in caplog.text  # a warning of ours, not a hook's swallowed exception
    (path,) = files_in(tmp_path / "captures")  # the request, written before the shutdown
    assert "response" not in json.loads(path.read_text())


# -- Bedrock and Vertex -----------------------------------------------------------------

BEDROCK_HOST = "bedrock-runtime.us-east-1.amazonaws.com"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_PATH = (
    "/v1/projects/proj/locations/us-east5/publishers/anthropic/models/"
    "claude-sonnet-4-5@20250929:streamRawPredict"
)
CLOUD_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}


def test_a_bedrock_event_stream_is_teed_and_reassembled(cap, tmp_path):
    f = make_flow(
        host=BEDROCK_HOST,
        path="/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
        body=CLOUD_BODY,
        headers={"x-amz-security-token": "IQoJ-secret", "authorization": "AWS4-HMAC-SHA256 x"},
    )
    cap.request(f)
    f.response = tutils.tresp(
        content=None, headers=http.Headers(content_type="application/vnd.amazon.eventstream")
    )
    cap.responseheaders(f)
    assert callable(f.response.stream)
    raw = frames.from_sse(SSE, metrics=frames.METRICS)
    chunks = [raw[i : i + 101] for i in range(0, len(raw), 101)]  # frames split anywhere
    passed = [f.response.stream(c) for c in chunks] + [f.response.stream(b"")]
    assert passed[:-1] == chunks  # the frames reach the client untouched, as they arrive
    cap.response(f)
    cap.flush()
    (path,) = files_in(tmp_path / "captures")
    assert path.name.endswith("_messages.json")
    rec = json.loads(path.read_text())
    assert (rec["provider"], rec["model"]) == ("bedrock", BEDROCK_MODEL)
    assert (
        rec["headers"]["x-amz-security-token"] == rec["headers"]["authorization"] == ("[REDACTED]")
    )
    resp = rec["response"]
    assert resp["streamed"] is True and resp["complete"] is True
    assert resp["body"]["content"][1]["input"]["todos"][0]["content"] == "Create weather folder"
    assert resp["amazon-bedrock-invocationMetrics"] == frames.METRICS
    assert b"IQoJ-secret" not in path.read_bytes()


def test_a_vertex_stream_and_a_count_tokens_call(cap, tmp_path):
    f = make_flow(host="us-east5-aiplatform.googleapis.com", path=VERTEX_PATH, body=CLOUD_BODY)
    cap.request(f)
    f.response = tutils.tresp(content=None, headers=http.Headers(content_type="text/event-stream"))
    cap.responseheaders(f)
    f.response.stream(SSE)
    f.response.stream(b"")
    cap.response(f)
    count = VERTEX_PATH.replace(
        "claude-sonnet-4-5@20250929:streamRawPredict", "count-tokens:rawPredict"
    )
    cap.request(make_flow(host="aiplatform.googleapis.com", path=count, body=CLOUD_BODY))
    cap.flush()
    first, second = files_in(tmp_path / "captures")
    assert first.name.endswith("_messages.json") and second.name.endswith("_count_tokens.json")
    rec = json.loads(first.read_text())
    assert (rec["provider"], rec["model"]) == ("vertex", "claude-sonnet-4-5@20250929")
    assert rec["response"]["complete"] is True
    assert json.loads(second.read_text())["provider"] == "vertex"


def test_other_cloud_calls_are_not_captured(cap, tmp_path):
    cap.request(make_flow(host=BEDROCK_HOST, path=f"/model/{BEDROCK_MODEL}/converse"))
    cap.request(make_flow(host="bedrock.us-east-1.amazonaws.com", path="/foundation-models"))
    cap.request(make_flow(host="evil.test", path=VERTEX_PATH))
    cap.flush()
    assert files_in(tmp_path / "captures") == []
