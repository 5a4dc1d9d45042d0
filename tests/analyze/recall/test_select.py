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
CFG = RecallConfig(prompt_min_score=0.0)  # BM25 scores of a 10-memory store are all small


@pytest.fixture
def index(tmp_path: Path):
    path = tmp_path / "memories.jsonl"
    forget = {"op": "forget", "id": GONE.id, "at": "2026-11-22T10:00:00+01:00"}
    path.write_bytes(store.encode(ALL) + json.dumps(forget).encode() + b"\n")
    with MemoryIndex.open(store=path, state_dir=tmp_path / "state") as ix:
        yield ix


def ids(text: str) -> list[str]:
    return list(block.ids_in(text))


def test_session_block_is_the_project_and_every_preference_ranked_kind_first(index) -> None:
    text = select.session_block(index, cwd=APP + "/src/deep", cfg=CFG)  # a subfolder counts
    assert ids(text) == [
        NEWER.id,  # preferences first: this project's, newest first
        TABS.id,
        NOWHERE.id,  # then other projects' and no project's preferences, newest first
        THEIR_PREF.id,
        DEPLOY.id,  # decision, convention, error_fix, fact (MEMORY_KINDS order)
        ALEMBIC.id,
        FIX.id,
        FACT.id,
    ]
    assert ELSEWHERE.id not in text and GONE.id not in text  # other project's decision, forgotten


def test_session_block_kinds_budget_and_an_unknown_folder(index) -> None:
    only = dataclasses.replace(CFG, kinds=["decision", "fact"])
    assert ids(select.session_block(index, cwd=APP, cfg=only)) == [DEPLOY.id, FACT.id]
    small = dataclasses.replace(CFG, max_chars=250)
    text = select.session_block(index, cwd=APP, cfg=small)
    full = ids(select.session_block(index, cwd=APP, cfg=CFG))
    got = ids(text)
    assert len(text) <= 250 and got[0] == NEWER.id and len(got) < len(full)
    assert got == [i for i in full if i in got]  # lines dropped whole, the order kept
    # A folder no memory was made in gets the user's preferences only.
    assert ids(select.session_block(index, cwd="/w/application", cfg=CFG)) == [
        NEWER.id,  # newest first, whatever their project
        NOWHERE.id,
        THEIR_PREF.id,
        TABS.id,
    ]
    assert select.session_block(index, cwd="/w", cfg=only) == ""


def test_prompt_block_brings_the_best_matches_of_the_project(index) -> None:
    prompt = "The alembic migration fails, what now?"
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
    scores = [h.score for h in index.search(prompt, projects=[APP, None])]
    strict = dataclasses.replace(CFG, prompt_min_score=max(scores) + 0.01)
    assert select.prompt_block(index, cwd=APP, prompt=prompt, cfg=strict, already=set()) == ""
    just = dataclasses.replace(CFG, prompt_min_score=max(scores))
    assert (
        len(ids(select.prompt_block(index, cwd=APP, prompt=prompt, cfg=just, already=set()))) == 1
    )
    chatter = "Please tell me a nice joke about the weather today"
    assert select.prompt_block(index, cwd=APP, prompt=chatter, cfg=CFG, already=set()) == ""
