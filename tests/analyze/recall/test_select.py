"""analyze/recall/select.py: what the hooks inject, over a real index of a real store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from analyze import store
from analyze.recall import block, select
from analyze.recall.index import MemoryIndex
from glass.config import RecallConfig
from tests.analyze.recall.fixtures import memory

APP = "/w/app"
TABS = memory("The user prefers tabs over spaces.", "preference", APP, created_at="2026-11-01")
ALEMBIC = memory("Run database migrations with alembic, never by hand.", "convention", APP)
DEPLOY = memory("Deploy with make ship from the main branch.", "decision", APP)
FIX = memory("A failing migration was fixed by alembic upgrade head.", "error_fix", APP)
FACT = memory("The API lives in the server folder.", "fact", APP)
NEWER = memory("The user wants short commit messages.", "preference", APP)
ELSEWHERE = memory("Use pnpm, not npm, for the web client.", "decision", "/w/other")
THEIR_PREF = memory("The user likes answers in British English.", "preference", "/w/other")
NOWHERE = memory("The user's editor is neovim.", "preference", None)
GONE = memory("Staging is called kestrel-7.", "fact", APP)
ALL = [TABS, ALEMBIC, DEPLOY, FIX, FACT, ELSEWHERE, THEIR_PREF, NOWHERE, GONE, NEWER]
CFG = RecallConfig()  # the defaults: relevance does not depend on the store's size


@pytest.fixture
def index(tmp_path: Path):
    path = tmp_path / "memories.jsonl"
    forget = {"op": "forget", "id": GONE.id, "at": "2026-11-22T10:00:00+01:00"}
    path.write_bytes(store.encode(ALL) + json.dumps(forget).encode() + b"\n")
    with MemoryIndex.open(store=path, state_dir=tmp_path / "state") as ix:
        yield ix


def ids(text: str) -> list[str]:
    return list(block.ids_in(text))


def test_session_block_is_the_project_first_then_other_projects_preferences(index) -> None:
    text = select.session_block(index, cwd=APP + "/src/deep", cfg=CFG)  # a subfolder counts
    assert ids(text) == [
        NEWER.id,  # this project's and no project's memories, kind first, newest first
        NOWHERE.id,
        TABS.id,
        DEPLOY.id,  # decision, convention, error_fix, fact (MEMORY_KINDS order)
        ALEMBIC.id,
        FIX.id,
        FACT.id,
        THEIR_PREF.id,  # then other projects' preferences
    ]
    assert ELSEWHERE.id not in text and GONE.id not in text  # other project's decision, forgotten


def test_other_projects_preferences_never_crowd_out_the_projects_own(index) -> None:
    mine = select.session_block(index, cwd=APP, cfg=CFG)
    own = ids(mine)[:-1]  # all but THEIR_PREF
    room = len(block.render([m for i in own for m in ALL if m.id == i], max_chars=10_000))
    tight = select.session_block(index, cwd=APP, cfg=dataclasses.replace(CFG, max_chars=room))
    assert ids(tight) == own


def test_session_block_kinds_budget_and_an_unknown_folder(index) -> None:
    only = dataclasses.replace(CFG, kinds=["decision", "fact"])
    assert ids(select.session_block(index, cwd=APP, cfg=only)) == [DEPLOY.id, FACT.id]
    small = dataclasses.replace(CFG, max_chars=250)
    text = select.session_block(index, cwd=APP, cfg=small)
    full = ids(select.session_block(index, cwd=APP, cfg=CFG))
    got = ids(text)
    assert len(text) <= 250 and got[0] == NEWER.id and len(got) < len(full)
    assert got == [i for i in full if i in got]  # lines dropped whole, the order kept
    # A folder no memory was made in gets the memories without a project, then every
    # project's preferences, newest first.
    assert ids(select.session_block(index, cwd="/w/application", cfg=CFG)) == [
        NOWHERE.id,
        NEWER.id,
        THEIR_PREF.id,
        TABS.id,
    ]
    assert select.session_block(index, cwd="/w", cfg=only) == ""


def test_prompt_block_brings_the_best_matches_of_the_project(index) -> None:
    prompt = "The alembic database migration fails, what now?"  # 3 words shared with each
    text = select.prompt_block(index, cwd=APP, prompt=prompt, cfg=CFG, already=set())
    assert ids(text)[:2] == [FIX.id, ALEMBIC.id] or ids(text)[:2] == [ALEMBIC.id, FIX.id]
    assert len(text) <= CFG.prompt_max_chars
    # Not again what the session already got, and never another project's memory.
    again = select.prompt_block(index, cwd=APP, prompt=prompt, cfg=CFG, already={FIX.id})
    assert FIX.id not in again and ALEMBIC.id in again
    assert (
        select.prompt_block(index, cwd=APP, prompt="pnpm or npm here?", cfg=CFG, already=set())
        == ""
    )
    one = dataclasses.replace(CFG, prompt_limit=1)
    assert len(ids(select.prompt_block(index, cwd=APP, prompt=prompt, cfg=one, already=set()))) == 1


def test_prompt_block_stays_silent_for_short_prompts_and_weak_matches(index) -> None:
    assert select.prompt_block(index, cwd=APP, prompt="alembic?", cfg=CFG, already=set()) == ""
    prompt = "The alembic migration fails, what now?"
    scores = [h.relevance for h in index.search(prompt, projects=[APP, None])]
    strict = dataclasses.replace(CFG, prompt_min_score=max(scores) + 0.01)
    assert select.prompt_block(index, cwd=APP, prompt=prompt, cfg=strict, already=set()) == ""
    just = dataclasses.replace(CFG, prompt_min_score=max(scores))
    assert (
        len(ids(select.prompt_block(index, cwd=APP, prompt=prompt, cfg=just, already=set()))) == 1
    )
    chatter = "Please tell me a nice joke about the weather today"
    assert select.prompt_block(index, cwd=APP, prompt=chatter, cfg=CFG, already=set()) == ""


SET = Path(__file__).resolve().parents[2] / "data" / "recall" / "memories.jsonl"
WEBHOOK = "m_93a5d54c9cb59ba4"  # "Error: Stripe webhook signature verification failed …"


@pytest.mark.parametrize("size", [2, 500])
def test_the_threshold_means_the_same_in_a_young_and_a_grown_store(tmp_path, size) -> None:
    lines = SET.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    webhook = next(r for r in rows if r["id"] == WEBHOOK)
    other = next(r for r in rows if r["project"] != webhook["project"])
    kept = [webhook, other] if size == 2 else rows[:size]
    assert webhook in kept and len(kept) == size
    path = tmp_path / "memories.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    cwd = webhook["project"]
    with MemoryIndex.open(store=path, state_dir=tmp_path / "state") as ix:

        def recalled(prompt: str) -> list[str]:
            return ids(select.prompt_block(ix, cwd=cwd, prompt=prompt, cfg=CFG, already=set()))

        assert WEBHOOK in recalled(
            "the webhook endpoint rejects every event from stripe listen with a signature error"
        )
        # one generic word shared ("error") is not a match, in either store
        assert recalled("what does this error in my function mean?") == []
        assert recalled("Please tell me a nice joke about the weather today") == []
