"""Which memories the hooks give Claude Code: pure functions over a `MemoryIndex`.

`session_block()` (SessionStart): first the current memories of the
session's project (the known project `cwd` is, or is inside:
`index.project_for`) and those with no project, ranked kind first in
`glass.contract.MEMORY_KINDS` order (preference, decision, convention,
error_fix, fact: how the user wants to work and what was decided before how
things are), newest first within a kind; after them the user's preferences
from every other project, newest first; only `recall.kinds`; as many as fit
`recall.max_chars` (analyze/recall/block.py drops whole lines). So other
projects' preferences never crowd out the project's own decisions and
conventions.

`prompt_block()` (UserPromptSubmit): among the `CANDIDATES` best BM25 hits
for the prompt in this project's memories and those with no project, those
whose `Hit.relevance` (analyze/recall/index.py: comparable across prompts
and store sizes) is at least `recall.prompt_min_score`, leaving out the ids
in `already` (given at session start or by an earlier prompt); the
`recall.prompt_limit` most relevant, within `recall.prompt_max_chars`.
Nothing for a prompt shorter than `recall.prompt_min_chars` characters.

"" means: inject nothing. The hooks (analyze/recall/hooks.py) and the recall
benchmark (bench/recall_bench.py) call these in-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from analyze.recall import block
from analyze.recall.index import project_for
from glass.contract import MEMORY_KINDS

if TYPE_CHECKING:
    from analyze.recall.index import MemoryIndex
    from analyze.store import Memory
    from glass.config import RecallConfig

PREFERENCE = "preference"
CANDIDATES = 20
"""How many BM25 hits a prompt's memories are chosen from (by relevance)."""


def project_of(index: MemoryIndex, cwd: str) -> str | None:
    """The known project the session works in, else None."""
    return project_for(cwd, index.projects()) if cwd else None


def session_block(index: MemoryIndex, *, cwd: str, cfg: RecallConfig) -> str:
    project = project_of(index, cwd)
    cap = most_lines(cfg.max_chars)
    mine = [project, None] if project is not None else [None]
    own: list[Memory] = []
    for kind in cfg.kinds:
        own += index.current(projects=mine, kinds=[kind], limit=cap)
    others: list[Memory] = []
    elsewhere = [p for p in index.projects() if p != project]
    if PREFERENCE in cfg.kinds and elsewhere:
        others = index.current(projects=elsewhere, kinds=[PREFERENCE], limit=cap)
    return block.render(rank(own, others), max_chars=cfg.max_chars)


def most_lines(max_chars: int) -> int:
    """How many memory lines could fit `max_chars` at most: only that many candidates of
    each kind are read from the index (a store of 10,000 memories costs no more than 100)."""
    return max_chars // block.MIN_LINE + 1


def rank(own: Sequence[Memory], others: Sequence[Memory]) -> list[Memory]:
    """`own` kind first (MEMORY_KINDS order), then `others`; each newest first as the index
    returns them (`sorted` is stable)."""
    order = {kind: n for n, kind in enumerate(MEMORY_KINDS)}
    return sorted(own, key=lambda m: order.get(m.kind, len(order))) + list(others)


def prompt_block(
    index: MemoryIndex, *, cwd: str, prompt: str, cfg: RecallConfig, already: set[str]
) -> str:
    if len(prompt.strip()) < cfg.prompt_min_chars or cfg.prompt_limit < 1:
        return ""
    project = project_of(index, cwd)
    projects = [project, None] if project is not None else [None]
    hits = index.search(
        prompt,
        projects=projects,
        kinds=cfg.kinds,
        limit=max(CANDIDATES, cfg.prompt_limit) + len(already),
    )
    good = [h for h in hits if h.relevance >= cfg.prompt_min_score and h.memory.id not in already]
    good.sort(key=lambda h: -h.relevance)  # stable: BM25 order among equals
    return block.render(
        [h.memory for h in good[: cfg.prompt_limit]], max_chars=cfg.prompt_max_chars
    )
