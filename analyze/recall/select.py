"""Which memories the hooks give Claude Code: pure functions over a `MemoryIndex`.

`session_block()` (SessionStart): the current memories of the session's
project (the known project `cwd` is, or is inside: `index.project_for`),
plus the user's preferences from every other project and from none; only
`recall.kinds`. Ranked kind first, in `glass.contract.MEMORY_KINDS` order
(preference, decision, convention, error_fix, fact: how the user wants to
work and what was decided before how things are), within a kind this
project's before other projects' preferences, then newest first; as many as
fit `recall.max_chars` (analyze/recall/block.py drops whole lines).

`prompt_block()` (UserPromptSubmit): the `recall.prompt_limit` best BM25
hits for the prompt among this project's memories and those with no
project, scoring at least `recall.prompt_min_score`, leaving out the ids
in `already` (given at session start or by an earlier prompt), within
`recall.prompt_max_chars`. Nothing for a prompt shorter than
`recall.prompt_min_chars` characters.

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


def project_of(index: MemoryIndex, cwd: str) -> str | None:
    """The known project the session works in, else None."""
    return project_for(cwd, index.projects()) if cwd else None


def session_block(index: MemoryIndex, *, cwd: str, cfg: RecallConfig) -> str:
    project = project_of(index, cwd)
    cap = most_lines(cfg.max_chars)
    own: list[Memory] = []
    if project is not None:
        for kind in cfg.kinds:
            own += index.current(projects=[project], kinds=[kind], limit=cap)
    preferences: list[Memory] = []
    if PREFERENCE in cfg.kinds:
        everyone = index.current(kinds=[PREFERENCE], limit=2 * cap)  # this project's among them
        preferences = [m for m in everyone if project is None or m.project != project]
    return block.render(rank(own, preferences), max_chars=cfg.max_chars)


def most_lines(max_chars: int) -> int:
    """How many memory lines could fit `max_chars` at most: only that many candidates of
    each kind are read from the index (a store of 10,000 memories costs no more than 100)."""
    return max_chars // block.MIN_LINE + 1


def rank(own: Sequence[Memory], others: Sequence[Memory]) -> list[Memory]:
    """Kind first (MEMORY_KINDS order), then `own` before `others`, each newest first
    (both come newest first from the index; `sorted` is stable)."""
    order = {kind: n for n, kind in enumerate(MEMORY_KINDS)}
    tagged = [(m, 0) for m in own] + [(m, 1) for m in others]
    ranked = sorted(tagged, key=lambda pair: (order.get(pair[0].kind, len(order)), pair[1]))
    return [m for m, _ in ranked]


def prompt_block(
    index: MemoryIndex, *, cwd: str, prompt: str, cfg: RecallConfig, already: set[str]
) -> str:
    if len(prompt.strip()) < cfg.prompt_min_chars or cfg.prompt_limit < 1:
        return ""
    project = project_of(index, cwd)
    projects = [project, None] if project is not None else [None]
    hits = index.search(
        prompt, projects=projects, kinds=cfg.kinds, limit=cfg.prompt_limit + len(already)
    )
    chosen = [
        h.memory for h in hits if h.score >= cfg.prompt_min_score and h.memory.id not in already
    ]
    return block.render(chosen[: cfg.prompt_limit], max_chars=cfg.prompt_max_chars)
