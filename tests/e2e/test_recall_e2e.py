"""End to end: memories come back into the next Claude Code session, and are not learnt back.

The whole loop with real parts (tests/recall_loop.py): the real Claude Code CLI
(`make run-claude`) through the real capture proxy to the stand-in, the real
analyzer (`make analyze-once`) against an extraction stand-in, and the real hooks
(`make hooks`) that the CLI runs itself.

1. session 1 states a preference and a decision;
2. `make analyze-once` stores them;
3. `make hooks` installs the hooks into the work folder;
4. in session 2 the request Claude Code sent holds both memories inside the marker;
   its prompt matches the decision, already given at session start: nothing is added;
5. in session 3, with a `recall.max_chars` that leaves the decision out of the
   session-start block, the prompt that matches it adds it through UserPromptSubmit;
   session 3 runs a model without mid-conversation system turns (README), so there
   the blocks travel in user text blocks, as system reminders;
6. `make analyze-once` after sessions 2 and 3 sends none of the injected text to the
   extraction model and adds no memory.
"""

from __future__ import annotations

import json

import pytest

from analyze.recall import block
from tests.proxy import capture_files, load_capture, require_claude, wait_for_captures
from tests.recall_loop import (
    DECISION,
    MAIN_ANSWER,
    PREFERENCE,
    SESSION_1,
    Extractor,
    Loop,
    claude_model,
    excerpts,
    hook_texts,
    main_requests,
)
from tests.standin import StandIn

pytestmark = pytest.mark.e2e

START = "SessionStart hook additional context: "
PROMPT = "UserPromptSubmit hook additional context: "
SESSION_2 = "How do we deploy with make ship again?"
NO_SYSTEM_TURNS = "claude-opus-4-5"
"""A model Claude Code 2.1.197 sends no `role: "system"` turns to (README)."""


def new_captures(loop: Loop, seen: set[str], count: int) -> list[dict]:
    wait_for_captures(loop.captures, len(seen) + count)
    paths = [p for p in capture_files(loop.captures) if str(p) not in seen]
    seen.update(str(p) for p in paths)
    return [load_capture(p) for p in paths]


def ids_in(texts: list[tuple[str, str]]) -> list[str]:
    """The ids of the block each text starts with (a text runs on to its message's end)."""
    out = []
    for _, text in texts:
        match = block.BLOCK_RE.match(text)
        assert match, text[:300]
        out += block.ids_in(match.group(0))
    return out


def test_memories_come_back_and_are_not_learnt_back(start_proxy, standin, capture_dir, tmp_path):
    claude = require_claude()
    standin.responder = claude_model
    extractor = Extractor()
    with StandIn(extractor) as model:
        proxy = start_proxy(capture_dir=capture_dir)
        loop = Loop.create(tmp=tmp_path, claude_bin=claude, proxy=proxy, extractor_url=model.url)
        seen: set[str] = set()

        # 1. Session 1, without hooks: make run-claude says so, once.
        done = loop.claude(SESSION_1)
        assert done.returncode == 0, done.stderr
        assert MAIN_ANSWER in done.stdout
        assert done.stderr.count("make hooks DIR=") == 1
        session_1 = main_requests(new_captures(loop, seen, len(standin.message_requests)))
        assert session_1 and not any(hook_texts(r, "glass-memories") for r in session_1)

        # 2. The analyzer stores the preference and the decision.
        done = loop.analyze_once()
        assert done.returncode == 0, done.stderr
        memories = {m["text"]: m for m in loop.store_lines()}
        assert set(memories) == {PREFERENCE, DECISION}
        assert {m["project"] for m in memories.values()} == {str(loop.project)}
        pref_id, dec_id = memories[PREFERENCE]["id"], memories[DECISION]["id"]

        # 3. make hooks, into the work folder (twice: still one entry each).
        for _ in range(2):
            done = loop.hooks()
            assert done.returncode == 0, done.stderr
        settings = json.loads((loop.project / ".claude" / "settings.json").read_bytes())
        assert [len(settings["hooks"][e]) for e in ("SessionStart", "UserPromptSubmit")] == [1, 1]

        # 4. Session 2: what Claude Code sent holds both memories inside the marker.
        before = len(standin.message_requests)
        done = loop.claude(SESSION_2)
        assert done.returncode == 0, done.stderr
        assert "make hooks" not in done.stderr
        session_2 = main_requests(new_captures(loop, seen, len(standin.message_requests) - before))
        assert session_2
        first = session_2[0]
        starts = hook_texts(first, START + block.OPEN)
        assert len(starts) == 1, json.dumps(first["messages"], indent=1)[:3000]
        assert ids_in(starts) == [pref_id, dec_id]
        ((role, text),) = starts
        assert role == "system"  # 2.1.197's mid-conversation system turn (README)
        assert f"- [preference] {PREFERENCE} ({pref_id})" in text
        assert f"- [decision] {DECISION} ({dec_id})" in text
        assert hook_texts(first, PROMPT) == []  # the decision was already given

        # 5. Session 3: the session-start block has room for the preference only; the
        # prompt matches the decision, which UserPromptSubmit then adds.
        both = [_memory(memories[PREFERENCE]), _memory(memories[DECISION])]
        room = len(block.render(both, max_chars=10_000)) - 1
        loop.set_recall(  # the default prompt_min_score: a 2-memory store gets prompt recall
            max_chars=room,
            prompt_max_chars=len(block.render(both[1:], max_chars=room)),
        )
        before = len(standin.message_requests)
        done = loop.claude(SESSION_2, model=NO_SYSTEM_TURNS)
        assert done.returncode == 0, done.stderr
        session_3 = main_requests(new_captures(loop, seen, len(standin.message_requests) - before))
        first = session_3[0]
        assert first["model"] == NO_SYSTEM_TURNS
        starts = hook_texts(first, START + block.OPEN)
        assert ids_in(starts) == [pref_id]
        prompts = hook_texts(first, PROMPT + block.OPEN)
        assert ids_in(prompts) == [dec_id], json.dumps(first["messages"], indent=1)[:3000]
        assert [role for role, _ in starts + prompts] == ["user", "user"]

        # 6. The analyzer reads sessions 2 and 3 and learns nothing back from the recall.
        asked = len(extractor.requests)
        done = loop.analyze_once()
        assert done.returncode == 0, done.stderr
        sent = excerpts(extractor.requests[asked:])
        assert SESSION_2 in sent  # the sessions were read ...
        assert "glass-memories" not in sent and "hook additional context" not in sent
        assert PREFERENCE not in sent and DECISION not in sent and pref_id not in sent
        assert {m["text"] for m in loop.store_lines()} == {
            PREFERENCE,
            DECISION,
        }  # ... no new memory


def _memory(row: dict):
    from analyze.store import Memory

    return Memory.from_json(row)
