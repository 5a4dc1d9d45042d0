"""capture/sse.py: reassembly of real recorded streams into Messages."""

import json

import pytest

from capture import sse
from tests import corpus


def test_main_turn_stream_from_claude_code_1x():
    result = sse.reassemble(corpus.MAIN_TURN_SSE.read_text())
    msg = result.message
    assert result.complete and not result.problems and result.error is None
    assert msg["model"] == "claude-sonnet-4-20250514"
    assert [b["type"] for b in msg["content"]] == ["text", "tool_use"]
    assert msg["content"][0]["text"].startswith("I'll create a weather app")
    tool = msg["content"][1]
    assert tool["name"] == "TodoWrite"
    assert [t["content"] for t in tool["input"]["todos"]] == [
        "Create weather folder",
        "Generate single page HTML weather app for Graz",
    ]
    assert msg["stop_reason"] == "tool_use"
    # input and cache counts from message_start, output from the final message_delta
    assert msg["usage"]["input_tokens"] == 4
    assert msg["usage"]["cache_creation_input_tokens"] == 15032
    assert msg["usage"]["output_tokens"] == 174


def test_thinking_stream_keeps_thinking_signature_and_cumulative_usage():
    text = corpus.THINKING_SSE.read_text()
    chunks = [
        json.loads(line)
        for line in (corpus.CORPUS / "vercel-ai_sonnet-4.5_thinking_stream.chunks.jsonl")
        .read_text()
        .splitlines()
    ]
    final_usage = [c for c in chunks if c["type"] == "message_delta"][-1]["usage"]
    thinking = "".join(
        c["delta"]["thinking"]
        for c in chunks
        if c["type"] == "content_block_delta" and c["delta"]["type"] == "thinking_delta"
    )

    result = sse.reassemble(text)
    msg = result.message
    assert result.complete
    block = msg["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == thinking
    assert block["signature"]
    assert msg["content"][1]["type"] == "text"
    for key, value in final_usage.items():
        assert msg["usage"][key] == value  # replaced, never summed
    assert "context_management" in msg


def test_every_stream_of_the_64_request_session_reassembles():
    streams = [
        p["response"]["body_raw"] for p in corpus.trace_pairs() if "body_raw" in p["response"]
    ]
    assert len(streams) > 30
    for raw in streams:
        result = sse.reassemble(raw)
        assert result.complete, result.problems
        assert not result.problems
        assert result.message["stop_reason"] in ("end_turn", "tool_use", "max_tokens")
        for block in result.message["content"]:
            if block["type"] == "tool_use":
                assert isinstance(block["input"], dict)


def test_cut_stream_keeps_what_arrived():
    raw = corpus.MAIN_TURN_SSE.read_text()
    cut = raw[: raw.index('"type":"input_json_delta"') + 200]
    result = sse.reassemble(cut)
    assert not result.complete
    assert result.message["stop_reason"] is None
    assert result.message["content"][0]["text"].startswith("I'll create")
    tool = result.message["content"][1]
    assert tool["input"] == {} and tool["partial_input_json"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_framing(newline):
    raw = corpus.MAIN_TURN_SSE.read_text().replace("\n", newline)
    assert sse.reassemble(raw).message["content"][1]["name"] == "TodoWrite"


def test_error_event_and_garbage_are_reported_not_raised():
    raw = (
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":3}}}\n\n'
        "event: content_block_delta\ndata: {not json\n\n"
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}}\n\n'
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    result = sse.reassemble(raw)
    assert result.error == {"type": "overloaded_error", "message": "Overloaded"}
    assert len(result.problems) == 2
    assert not result.complete


def test_no_message_start_gives_no_message():
    assert sse.reassemble("data: hello\n\n").message is None
    assert sse.reassemble("").message is None


def test_a_block_index_far_past_the_content_is_a_problem_not_a_huge_list():
    start = {"type": "message_start", "message": {"id": "m", "content": [], "usage": {}}}
    far = {"type": "content_block_start", "index": 10**9, "content_block": {"type": "text"}}
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in (start, far))
    result = sse.reassemble(text)
    assert result.message["content"] == []
    assert any("index 1000000000 out of range" in p for p in result.problems)


def test_data_nested_deeper_than_json_can_read_is_a_problem_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    text = f"event: ping\ndata: {deep}\n\n"
    result = sse.reassemble(text)
    assert result.message is None and any("not JSON" in p for p in result.problems)
