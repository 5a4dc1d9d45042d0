"""`python -m analyze mcp`: the memory store as an MCP server on stdio, for Claude Code.

Built on the official `mcp` SDK (FastMCP): the tool schemas come from the
typed signatures below, their descriptions are written for the model.

- `search_memories(query, kind?, limit?)`: BM25 search (analyze.recall.index),
  in the project the server runs in (Claude Code starts it in the project's
  folder) plus the user's memories without a project; everywhere when that
  folder is no known project.
- `list_memories(project?, kind?)`: current memories, newest first.
- `forget_memory(id)`: a tombstone through the store's exactly-once commit,
  as `python -m analyze forget`.

Every call opens the index afresh, so memories the analyzer adds while the
server runs are found. stdout carries the protocol and nothing else: logging
goes to stderr. The server imports the SDK and the index, never the
analyzer's pipeline or the anthropic SDK.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from analyze import store
from analyze.ledger import Ledger
from analyze.recall.index import MemoryIndex, project_for
from glass.config import Config
from glass.contract import MEMORY_KINDS

logger = logging.getLogger("glass.mcp")

Kind = Literal[MEMORY_KINDS]  # type: ignore[valid-type]  # the enum stated once, in glass.contract
LIST_LIMIT = 200

INSTRUCTIONS = (
    "Glass keeps long-term memories mined from this user's past Claude Code sessions: "
    "preferences, decisions, conventions, error fixes and facts, per project. Search them "
    "before asking the user something they may have told you before, and forget a memory "
    "the user says is wrong."
)


def build(cfg: Config, *, cwd: str | None = None) -> FastMCP:
    """The server, its tools bound to the store and state folder of `cfg`."""
    a = cfg.analyze
    assert a.store is not None and a.state_dir is not None  # load_config fills them in
    store_path, state_dir = a.store, a.state_dir
    here = cwd or os.getcwd()
    server = FastMCP("glass", instructions=INSTRUCTIONS, log_level="WARNING")

    def scope(index: MemoryIndex) -> list[str | None] | None:
        project = project_for(here, index.projects())
        return None if project is None else [project, None]

    @server.tool()
    def search_memories(
        query: Annotated[
            str, Field(description="Words to look for, e.g. 'database migrations' or the task")
        ],
        kind: Annotated[Kind | None, Field(description="Only memories of this kind")] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="At most this many")] = 10,
    ) -> list[dict[str, Any]]:
        """Search what Glass remembers from earlier sessions with this user, best match first
        (BM25 over the memory texts, with stemming: 'migrations' finds 'migration'). Covers this
        project and the user's general preferences. Each result has the memory's id, kind,
        project, created_at, text, score (higher is better) and match (the text with the
        matched words in [brackets]). An empty list means nothing relevant is known."""
        with MemoryIndex.open(store=store_path, state_dir=state_dir) as index:
            hits = index.search(
                query, projects=scope(index), kinds=[kind] if kind else None, limit=limit
            )
        return [_row(h.memory) | {"score": round(h.score, 4), "match": h.snippet} for h in hits]

    @server.tool()
    def list_memories(
        project: Annotated[
            str | None,
            Field(
                description="A project folder (absolute path); default: this project, "
                "else every project"
            ),
        ] = None,
        kind: Annotated[Kind | None, Field(description="Only memories of this kind")] = None,
    ) -> list[dict[str, Any]]:
        """List the current memories (not forgotten, not superseded by a newer one), newest
        first, at most 200: by default those of this project plus the user's general ones.
        Each has its id, kind, project, created_at and text. Use search_memories to find
        memories about a topic."""
        with MemoryIndex.open(store=store_path, state_dir=state_dir) as index:
            if project is None:
                projects = scope(index)
            else:
                folder = os.path.abspath(os.path.expanduser(project))
                projects = [project_for(folder, index.projects()) or folder]
            memories = index.current(projects=projects, kinds=[kind] if kind else None)
        return [_row(m) for m in memories[:LIST_LIMIT]]

    @server.tool()
    def forget_memory(
        id: Annotated[str, Field(description="The memory's id, m_ and 16 hex digits")],
    ) -> dict[str, Any]:
        """Forget a memory the user says is wrong or no longer true: it is left out of
        search, lists and what later sessions are given (the store keeps it, and
        `python -m analyze restore ID` brings it back). Returns the memory and whether it
        was already forgotten."""
        ledger = Ledger(state_dir)
        try:
            memories = store.MemoryStore(store_path)
            changed = store.curate(ledger, memories, op=store.FORGET, ids=[id])
        except store.UnknownMemory as e:
            raise ToolError(str(e)) from None
        finally:
            ledger.close()
        memory = next(m for m in memories.memories if m.id == id)
        return _row(memory) | {"forgotten": True, "already_forgotten": not changed}

    return server


def _row(m: store.Memory) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "project": m.project,
        "created_at": m.created_at,
        "text": m.text,
    }


def serve(cfg: Config) -> int:
    """Run the server on stdin/stdout until the client closes it."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="glass mcp: %(levelname)s %(message)s"
    )
    build(cfg).run("stdio")
    return 0
