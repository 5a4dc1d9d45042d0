"""analyze/conversation.py: sessions, projects and main-loop vs side calls, on real traffic."""

import pytest

from analyze import conversation
from tests import corpus


def doc_of(pair):
    return corpus.to_capture(pair)


def test_session_from_the_2x_header():
    docs = [doc_of(p) for p in corpus.trace_pairs(corpus.SESSION_2X)]
    assert {conversation.session_id(d) for d in docs} == {"02892a0f-c3e4-475b-a71a-53023a3f8b6d"}


def test_session_from_2x_metadata_json_when_the_header_is_missing():
    doc = doc_of(next(corpus.trace_pairs(corpus.SESSION_2X)))
    doc["headers"] = {}
    assert conversation.session_id(doc) == "02892a0f-c3e4-475b-a71a-53023a3f8b6d"


def test_session_from_1x_user_id():
    doc = doc_of(next(corpus.trace_pairs(corpus.SESSION_1058)))
    user_id = doc["request"]["metadata"]["user_id"]
    assert "_session_" in user_id
    assert conversation.session_id(doc) == user_id.rsplit("_session_", 1)[1]


def test_fallback_groups_the_main_loop_of_a_1x_session_including_compact():
    docs = [doc_of(p) for p in corpus.trace_pairs()]
    main = [d for d in docs if conversation.scope(d, "messages") == "main"]
    sessions = [conversation.session_id(d) for d in main]
    assert all(s.startswith("first-message-") for s in sessions)
    # Every turn before the /compact continuation, and the compact request itself,
    # share the session of "create a folder weather ..." (reminders ignored).
    compact_at = next(i for i, d in enumerate(main) if len(d["request"].get("tools") or []) == 1)
    assert len(set(sessions[: compact_at + 1])) == 1


def test_scope_on_the_recorded_session():
    scopes = [conversation.scope(doc_of(p), "messages") for p in corpus.trace_pairs()]
    assert scopes.count("main") == 17  # 16 main-loop turns + the /compact request
    assert scopes.count("side") == 47  # 18 quota probes + 29 haiku side calls


def test_scope_of_count_tokens_and_odd_requests():
    assert conversation.scope({"request": {"tools": [{}]}}, "count_tokens") == "side"
    assert conversation.scope({"request_text": "x"}, "messages") == "side"
    assert conversation.scope({"request": {"tools": [{}], "max_tokens": 1}}, "messages") == "side"


def test_project_from_the_system_prompt():
    doc = doc_of(next(iter(corpus.trace_pairs(corpus.SESSION_2X))))
    assert conversation.project(doc) == "/home/dev/ledger"
    main_1x = next(doc_of(p) for p in corpus.trace_pairs() if p["request"]["body"].get("tools"))
    assert conversation.project(main_1x).startswith("/Users/badlogic/")
    assert conversation.project({"request": {}}) is None
    spaced = {
        "request": {
            "system": [
                {
                    "type": "text",
                    "text": "Working directory: /Users/me/My Projects/app\nIs a git repo",
                }
            ]
        }
    }
    assert conversation.project(spaced) == "/Users/me/My Projects/app"


def test_model_prefers_the_request_then_the_model_key_then_the_answer():
    bedrock = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    answer = {"response": {"body": {"model": "claude-sonnet-4-5-20250929"}}}
    asked = {"request": {"model": "claude-opus-4-8"}, "model": bedrock, **answer}
    assert conversation.model(asked) == "claude-opus-4-8"
    # Bedrock and Vertex bodies name no model: the URL's id (the `model` key) has the region
    bedrock_doc = {"request": {"anthropic_version": "bedrock-2023-05-31"}, "model": bedrock}
    assert conversation.model({**bedrock_doc, **answer}) == bedrock
    assert conversation.model({"request": {}, **answer}) == "claude-sonnet-4-5-20250929"
    assert conversation.model({"request": "not json"}) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<system-reminder>x</system-reminder>", ""),
        ("hello <system-reminder>\nx\n</system-reminder> world", "hello  world"),
        ("cut <system-reminder>never closed", "cut"),
        ("  plain  ", "plain"),
    ],
)
def test_strip_reminders(text, expected):
    assert conversation.strip_reminders(text) == expected
