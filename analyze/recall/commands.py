"""The recall commands of `python -m analyze`: search, forget, restore, export, mcp.

`add_parsers()` adds them to the analyzer's command line (analyze/cli.py) and
`run()` runs one. `analyze/__main__.py` sends these commands here directly
(`main()`), without importing `analyze.cli`, which loads the anthropic SDK:
`search` has the start-up budget of the hooks. Heavy imports (the MCP SDK)
stay inside the command that needs them.

python -m analyze search QUERY [--kind K] [--project P] [--limit N] [--json]
python -m analyze forget ID...       append a tombstone: the memory is left out everywhere
python -m analyze restore ID...      undo a forget
python -m analyze export --claude-md PATH [--project P]
python -m analyze mcp                the MCP server on stdio (analyze/mcp_server.py)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glass.config import Config, ConfigError, load_config
from glass.contract import MEMORY_KINDS

if TYPE_CHECKING:
    from analyze.recall.index import MemoryIndex

COMMANDS = ("search", "forget", "restore", "export", "mcp")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the recall commands to `sub` (the analyzer's subparsers), with `common`'s options."""
    search = sub.add_parser("search", parents=[common], help="search the memories (BM25)")
    search.add_argument("query", nargs="+", help="words to look for (any of them)")
    search.add_argument("--kind", choices=MEMORY_KINDS, action="append", help="repeatable")
    search.add_argument(
        "--project", metavar="DIR", help="only this project's memories (a subfolder counts)"
    )
    search.add_argument("--limit", type=_positive, default=10, help="at most N hits (10)")
    search.add_argument("--json", action="store_true", help="one JSON object per line")

    for name, what in (("forget", "leave memories out from now on"), ("restore", "undo forget")):
        p = sub.add_parser(name, parents=[common], help=what)
        p.add_argument("ids", nargs="+", metavar="ID", help="memory ids (m_…), as `list` shows")

    export = sub.add_parser(
        "export", parents=[common], help="write a project's memories into a CLAUDE.md"
    )
    export.add_argument("--claude-md", required=True, metavar="PATH", help="the file to update")
    export.add_argument(
        "--project", metavar="DIR", help="the project (default: the folder of PATH)"
    )

    sub.add_parser("mcp", parents=[common], help="MCP server on stdio (search, list, forget)")


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of an analyzer command line (skipping --config PATH)."""
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--config":
            args = args[1:]
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str]) -> int:
    """`python -m analyze <recall command> ...` without the rest of the analyzer."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    parser = argparse.ArgumentParser(prog="python -m analyze", parents=[common])
    add_parsers(parser.add_subparsers(dest="command", metavar="COMMAND"), common)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(getattr(args, "config", None))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return run(args, cfg)


def run(args: argparse.Namespace, cfg: Config) -> int:
    if args.command == "search":
        return cmd_search(cfg, args)
    if args.command in ("forget", "restore"):
        return cmd_curate(cfg, op=args.command, ids=args.ids)
    if args.command == "export":
        return cmd_export(cfg, args)
    if args.command == "mcp":
        from analyze import mcp_server

        return mcp_server.serve(cfg)
    raise ValueError(f"not a recall command: {args.command}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def open_index(cfg: Config) -> MemoryIndex:
    from analyze.recall.index import MemoryIndex

    a = cfg.analyze
    assert a.store is not None and a.state_dir is not None  # load_config fills them in
    return MemoryIndex.open(store=a.store, state_dir=a.state_dir)


def resolve_project(index: MemoryIndex, folder: str) -> str:
    """The known project `folder` is in, else the folder itself (then nothing matches)."""
    from analyze.recall.index import project_for

    here = os.path.abspath(os.path.expanduser(folder))
    return project_for(here, index.projects()) or here


def cmd_search(cfg: Config, args: argparse.Namespace) -> int:
    with open_index(cfg) as index:
        projects = None if args.project is None else [resolve_project(index, args.project)]
        hits = index.search(
            " ".join(args.query), projects=projects, kinds=args.kind, limit=args.limit
        )
    if args.json:
        for hit in hits:
            row = {**hit.memory.to_json(), "score": hit.score, "match": hit.snippet}
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not hits:
        print("no memory matches", file=sys.stderr)
        return 0
    for hit in hits:
        m = hit.memory
        print(
            f"{m.created_at[:10] or '?':<10}  {m.kind:<10}  {m.id}  {m.project or '(no project)'}"
            f"  score {hit.score:.2f}"
        )
        print(f"    {m.text}")
        if hit.snippet != m.text:
            print(f"    match: {hit.snippet}")
    return 0


def cmd_curate(cfg: Config, *, op: str, ids: Sequence[str]) -> int:
    from analyze import store
    from analyze.ledger import Ledger

    a = cfg.analyze
    assert a.store is not None and a.state_dir is not None  # load_config fills them in
    ledger = Ledger(a.state_dir)
    try:
        memories = store.MemoryStore(a.store)
        changed = store.curate(
            ledger, memories, op=store.FORGET if op == "forget" else store.RESTORE, ids=ids
        )
    except store.UnknownMemory as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    done = "forgot" if op == "forget" else "restored"
    state = "forgotten" if op == "forget" else "not forgotten"
    for mid in dict.fromkeys(ids):
        text = next(m.text for m in memories.memories if m.id == mid)
        if mid in changed:
            print(f"{done} {mid}: {text}")
        else:
            print(f"{mid} was already {state}: {text}", file=sys.stderr)
    return 0


def cmd_export(cfg: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from analyze.recall import export

    target = Path(args.claude_md).expanduser()
    with open_index(cfg) as index:
        project = resolve_project(index, args.project or str(target.absolute().parent))
        memories = index.current(projects=[project])
    try:
        export.write_claude_md(target, memories=memories)
    except export.ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(memories)} memories of {project} written to {target}", file=sys.stderr)
    return 0
