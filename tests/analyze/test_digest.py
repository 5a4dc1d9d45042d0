"""analyze/digest.py: only what a session has not said before, trimmed, on real sessions."""

import json
import re

from analyze import digest
from analyze.captures import CaptureRef
from tests import corpus

MAIN_BODY = {
    "model": "m",
    "tools": [{"name": "Read"}],
    "system": "Working directory: /p",
    "messages": [],
}


def ref(n=1, endpoint="messages"):
    return CaptureRef(
        fspath="",
        rel=f"2026-11-21/{n:03d}_120000_{endpoint}.json",
        day="2026-11-21",
        number=n,
        endpoint=endpoint,
    )


def capture(messages, response_content=None, **request):
    doc = {
        "captured_at": "x",
        "url": "u",
        "headers": {"X-Claude-Code-Session-Id": "s1"},
        "request": {**MAIN_BODY, **request, "messages": messages},
    }
    if response_content is not None:
        doc["response"] = {"status": 200, "body": {"type": "message", "content": response_content}}
    return doc


class SessionSeen(set):
    prefix = None


class Seen(dict):
    """seen_for() backed by plain sets, as the pipeline does per session."""

    def __call__(self, session_id):
        return self.setdefault(session_id, SessionSeen())


def lines(reduced):
    return [i.text for i in reduced.sendable]


def test_second_turn_sends_only_the_new_blocks():
    seen = Seen()
    turn1 = [{"role": "user", "content": "Use pnpm, not npm."}]
    answer1 = [
        {"type": "text", "text": "OK."},
        {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.py"}},
    ]
    r1 = digest.reduce(ref(1), capture(turn1, answer1), seen_for=seen, max_chars=100)
    assert lines(r1) == [
        "USER: Use pnpm, not npm.",
        "ASSISTANT: OK.",
        'TOOL_USE Read {"file_path":"a.py"}',
    ]
    # Claude Code resends everything, moving cache_control around.
    turn2 = [
        *turn1,
        {
            "role": "assistant",
            "content": [dict(answer1[0], cache_control={"type": "ephemeral"}), answer1[1]],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": "print(1)",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]
    r2 = digest.reduce(
        ref(2), capture(turn2, [{"type": "text", "text": "Done."}]), seen_for=seen, max_chars=100
    )
    assert lines(r2) == ["TOOL_RESULT: print(1)", "ASSISTANT: Done."]
    assert r2.session_id == "s1" and r2.project == "/p"


def test_reminders_system_turns_thinking_are_dropped_but_remembered():
    seen = Seen()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>context</system-reminder>"},
                {
                    "type": "text",
                    "text": "Fix the bug<system-reminder>todo list empty</system-reminder>",
                },
            ],
        },
        {"role": "system", "content": "deferred tools are available"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}],
        },
    ]
    r = digest.reduce(ref(), capture(messages), seen_for=seen, max_chars=100)
    assert lines(r) == ["USER: Fix the bug"]
    assert len(r.items) == 3  # the pure reminder and the thinking are seen, never sent
    again = digest.reduce(ref(2), capture(messages), seen_for=seen, max_chars=100)
    assert again.items == []


def test_long_tool_results_and_file_contents_are_cut_with_a_marker():
    seen = Seen()
    messages = [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "w",
                    "name": "Write",
                    "input": {"file_path": "x", "content": "A" * 500},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "w",
                    "is_error": True,
                    "content": [{"type": "text", "text": "E" * 300}],
                }
            ],
        },
    ]
    out = lines(digest.reduce(ref(), capture(messages), seen_for=seen, max_chars=100))
    assert (
        out[0]
        == 'TOOL_USE Write {"file_path":"x","content":"'
        + "A" * 200
        + ' [… 300 more characters cut by Glass]"}'
    )

    assert out[1] == "TOOL_RESULT (error): " + "E" * 100 + " [… 200 more characters cut by Glass]"


def test_side_calls_send_nothing():
    seen = Seen()
    probe = capture([{"role": "user", "content": "quota"}], max_tokens=1)
    assert digest.reduce(ref(), probe, seen_for=seen, max_chars=100).scope == "side"
    title = capture([{"role": "user", "content": "title?"}], tools=[])
    assert digest.reduce(ref(), title, seen_for=seen, max_chars=100).items == []
    assert (
        digest.reduce(ref(endpoint="count_tokens"), capture([]), seen_for=seen, max_chars=100).scope
        == "side"
    )
    assert seen == {}


def test_compacted_history_shows_up_as_new_blocks():
    seen = Seen()
    digest.reduce(
        ref(1),
        capture([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
        seen_for=seen,
        max_chars=100,
    )
    rewritten = [
        {"role": "user", "content": "Summary: a then b"},
        {"role": "assistant", "content": "b"},
    ]
    assert lines(digest.reduce(ref(2), capture(rewritten), seen_for=seen, max_chars=100)) == [
        "USER: Summary: a then b"
    ]


def test_real_session_sends_each_prompt_once_and_a_small_fraction():
    """The 64-request 1.x session: what the user typed reaches the model exactly once."""
    seen = Seen()
    raw = 0
    sent: list[str] = []
    for i, pair in enumerate(corpus.trace_pairs(), 1):
        doc = corpus.to_capture(pair)
        raw += len(json.dumps(doc["request"]))
        sent += lines(digest.reduce(ref(i), doc, seen_for=seen, max_chars=2000))
    for prompt in (
        "USER: create a folder weather and generate a single page .html app",
        "USER: please use a service that doesn't require any api key",
    ):
        assert sum(line.startswith(prompt) for line in sent) == 1, prompt
    # Every tool call of the main loop, each once (ids counted straight off the raw recording).
    recorded_ids = set()
    for pair in corpus.trace_pairs():
        if pair["request"]["body"].get("tools"):
            recorded_ids.update(
                re.findall(
                    r'"id":\s*"(toolu_\w+)"',
                    json.dumps(pair) + pair["response"].get("body_raw", ""),
                )
            )
    assert sum(line.startswith("TOOL_USE ") for line in sent) == len(recorded_ids) == 12
    assert sum(map(len, sent)) / raw < 0.04  # 1.31 MB of request bodies, ~42 KB sent


def test_known_history_prefix_is_skipped_and_a_rewrite_is_noticed():
    seen = Seen()
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    digest.reduce(ref(1), capture(history), seen_for=seen, max_chars=100)
    assert seen["s1"].prefix[0] == 2
    longer = [*history, {"role": "user", "content": "c"}]
    r = digest.reduce(ref(2), capture(longer), seen_for=seen, max_chars=100)
    assert lines(r) == ["USER: c"] and r.blocks_total == 1  # a and b were not even hashed
    # A history whose known part changed is walked in full again.
    seen["s1"].discard(digest.block_hash("user", {"type": "text", "text": "a"}))
    rewound = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c, said differently"},
    ]
    r = digest.reduce(ref(3), capture(rewound), seen_for=seen, max_chars=100)
    assert lines(r) == ["USER: a", "USER: c, said differently"] and r.blocks_total == 3
    # ... and so is one whose first message changed (/compact), even if the n-th did not.
    compacted = [
        {"role": "user", "content": "summary"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c, said differently"},
    ]
    r = digest.reduce(ref(4), capture(compacted), seen_for=seen, max_chars=100)
    assert lines(r) == ["USER: summary"] and r.blocks_total == 3


def test_block_hash_ignores_cache_control_and_identifies_tool_calls_by_id():
    a = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "x"}]}
    b = {
        **a,
        "cache_control": {"type": "ephemeral"},
        "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}],
    }
    assert digest.block_hash("user", a) == digest.block_hash("user", b)
    assert digest.block_hash("user", {"type": "text", "text": "x"}) != digest.block_hash(
        "assistant", {"type": "text", "text": "x"}
    )
    use = {"type": "tool_use", "id": "t9", "name": "Read", "input": {"a": 1}}
    assert digest.block_hash("assistant", use) == digest.block_hash(
        "assistant", {**use, "input": {"a": 1}}
    )


# -- Glass's own recall (analyze/recall/block.py) is never read back -------------------------

RECALLED = (
    "<glass-memories>\nGlass remembers from earlier sessions (kind, memory, id):\n"
    "- [preference] The user prefers tabs over spaces. (m_0123456789abcdef)\n</glass-memories>"
)


def hooked_turns(where):
    """Two turns of one conversation with the recall block where Claude Code puts hook
    output: a `role: "system"` turn (models with mid-conversation system messages), a user
    text block inside a system reminder (other models), a bare user text block, or appended
    to the prompt's own text; `where=None` is the same conversation without hooks."""
    prompt_1, prompt_2 = "Set up the linter.", "Now the formatter."
    ctx_1 = f"SessionStart hook additional context: {RECALLED}"
    ctx_2 = f"UserPromptSubmit hook additional context: {RECALLED}"

    def user(prompt, ctx):
        if where == "reminder":
            return [
                {"type": "text", "text": f"<system-reminder>\n{ctx}\n</system-reminder>"},
                {"type": "text", "text": prompt},
            ]
        if where == "block":
            return [{"type": "text", "text": ctx}, {"type": "text", "text": prompt}]
        if where == "inline":
            return [{"type": "text", "text": f"{prompt}\n\n{ctx}"}]
        return [{"type": "text", "text": prompt}]

    turn_1 = [{"role": "user", "content": user(prompt_1, ctx_1)}]
    if where == "system":
        turn_1.append({"role": "system", "content": f"{ctx_1}\n\nAvailable agent types: …"})
    turn_2 = [
        *turn_1,
        {"role": "assistant", "content": [{"type": "text", "text": "Linter set up."}]},
        {"role": "user", "content": user(prompt_2, ctx_2)},
    ]
    if where == "system":
        turn_2.append({"role": "system", "content": ctx_2})
    return [
        capture(turn_1, [{"type": "text", "text": "Linter set up."}]),
        capture(turn_2, [{"type": "text", "text": "Formatter set up."}]),
    ]


def sent(docs):
    seen = Seen()
    out = []
    for n, doc in enumerate(docs, 1):
        out += lines(digest.reduce(ref(n), doc, seen_for=seen, max_chars=2000))
    return out


def test_the_recall_block_is_dropped_wherever_claude_code_puts_it():
    plain = sent(hooked_turns(None))
    assert plain == [
        "USER: Set up the linter.",
        "ASSISTANT: Linter set up.",
        "USER: Now the formatter.",
        "ASSISTANT: Formatter set up.",
    ]
    for where in ("system", "reminder", "block", "inline"):
        hooked = sent(hooked_turns(where))
        assert hooked == plain, where
        assert "tabs" not in "".join(hooked) and "glass-memories" not in "".join(hooked)


def test_a_recall_block_in_a_tool_result_is_dropped_too():
    messages = [
        {"role": "user", "content": "Show me the hook log."},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": f"log\n{RECALLED}\nend"}
            ],
        },
    ]
    r = digest.reduce(ref(), capture(messages), seen_for=Seen(), max_chars=2000)
    assert lines(r)[-1] == "TOOL_RESULT: log\n\nend"
