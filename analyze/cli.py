"""Command line of the analyzer: `python -m analyze [--config PATH] [COMMAND]`.

python -m analyze                 watch: the backlog first, then new captures as they arrive
python -m analyze --once          process everything pending, then exit
python -m analyze status [--json] pending, processed, quarantined, failed; memories; spend
python -m analyze list [...]      the current memories
python -m analyze usage [...]     tokens and cost read off the captures
python -m analyze search|forget|restore|export|mcp   see analyze/recall/commands.py
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from analyze import usage
from analyze.backends import SetupError, make_backend
from analyze.captures import iter_captures
from analyze.ledger import AlreadyRunning, Ledger
from analyze.pipeline import Analyzer
from analyze.recall import commands as recall_commands
from analyze.store import MemoryStore
from analyze.watch import run_once, watch
from glass.config import Config, ConfigError, load_config

logger = logging.getLogger("glass.analyze")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    parser = argparse.ArgumentParser(
        prog="python -m analyze",
        parents=[common],
        description="Glass analyzer: captures in, memories out.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="process everything pending, then exit (default: keep watching)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", parents=[common], help="what the analyzer has done")
    status.add_argument("--json", action="store_true", help="one JSON object")

    lst = sub.add_parser("list", parents=[common], help="the current memories")
    lst.add_argument(
        "--kind", choices=["preference", "decision", "convention", "error_fix", "fact"]
    )
    lst.add_argument("--session", help="only memories of this session (a prefix is enough)")
    lst.add_argument("--grep", metavar="TEXT", help="only memories whose text contains TEXT")
    lst.add_argument("--all", action="store_true", help="include superseded and forgotten ones")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")

    usage.add_arguments(sub.add_parser("usage", parents=[common], help="token and cost report"))
    recall_commands.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(getattr(args, "config", None))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.command == "status":
        return cmd_status(cfg, as_json=args.json)
    if args.command == "list":
        return cmd_list(cfg, args)
    if args.command == "usage":
        return usage.run(args, cfg)
    if args.command in recall_commands.COMMANDS:
        return recall_commands.run(args, cfg)
    return cmd_run(cfg, once=args.once)


def cmd_run(cfg: Config, *, once: bool) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        backend = make_backend(cfg.analyze)
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        analyzer = Analyzer(cfg, backend=backend)
    except AlreadyRunning as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        if once:
            run_once(analyzer, stop=stop)
        else:
            watch(analyzer, observer_kind=cfg.analyze.observer, stop=stop)
    finally:
        analyzer.close()
    parked = len(analyzer.parked)
    print(
        f"glass analyze: {analyzer.stats.summary()}"
        + (f"; {parked} still in flight, left pending" if parked else ""),
        file=sys.stderr,
    )
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    """First SIGINT/SIGTERM: finish the batch in flight, then exit 0. Second: exit now."""

    def handler(signum, frame):
        if stop.is_set():
            raise SystemExit(128 + signum)
        logger.info("stopping after the batch in flight (again to stop at once)")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cmd_status(cfg: Config, *, as_json: bool) -> int:
    a = cfg.analyze
    ledger = Ledger.open_readonly(a.state_dir)
    counts = ledger.counts() if ledger else {"processed": 0, "quarantined": 0, "failed": 0}
    finished = ledger.finished() if ledger else set()
    pending = sum(
        1 for ref in iter_captures(cfg.capture.dir, endpoint="messages") if ref.rel not in finished
    )
    store = MemoryStore(a.store).load()
    calls = list(ledger.calls()) if ledger else []
    spend = usage.analyzer_spend(calls, cfg.usage.prices)
    report = {
        **counts,
        "pending": pending,
        "memories": len(store.current()),
        "memories_total": len(store.memories),
        "calls": len(calls),
        "failed_calls": sum(1 for c in calls if not c.ok),
        **spend,
        "captures_dir": str(cfg.capture.dir),
        "store": str(a.store),
        "quarantined_files": [
            {"capture": r, "reason": why}
            for r, why in (ledger.problems("quarantined") if ledger else [])
        ],
        "failed_files": [
            {"capture": r, "reason": why}
            for r, why in (ledger.problems("failed") if ledger else [])
        ],
    }
    if ledger:
        ledger.close()
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    cost = report["cost_usd"]
    print(
        f"captures   {report['pending']} pending, {report['processed']} processed, "
        f"{report['quarantined']} quarantined, {report['failed']} failed  ({cfg.capture.dir})"
    )
    print(
        f"memories   {report['memories']} current ({report['memories_total']} stored)  ({a.store})"
    )
    print(
        f"spend      {report['calls']} calls, {report['input_tokens']:,} input + "
        f"{report['cache_creation_input_tokens']:,} cache-write + "
        f"{report['cache_read_input_tokens']:,} cache-read + {report['output_tokens']:,} output tokens, "
        + (
            f"cost ? (no price for {', '.join(report['unpriced_models'])} in usage.prices)"
            if cost is None
            else f"${cost:.4f}"
        )
    )
    for label, rows in (
        ("quarantined", report["quarantined_files"]),
        ("failed", report["failed_files"]),
    ):
        for row in rows[:10]:
            print(f"  {label}: {row['capture']}: {row['reason']}")
    return 0


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    store = MemoryStore(cfg.analyze.store).load()
    memories = store.memories if args.all else store.current()
    needle = args.grep.casefold() if args.grep else None
    shown = [
        m
        for m in memories
        if (args.kind is None or m.kind == args.kind)
        and (args.session is None or m.session_id.startswith(args.session))
        and (needle is None or needle in m.text.casefold())
    ]
    if args.json:
        for m in shown:
            forgotten = {"forgotten": True} if m.id in store.forgotten else {}
            print(json.dumps(m.to_json() | forgotten, ensure_ascii=False))
        return 0
    if not shown:
        print(
            "no memories" + (" match" if memories else " yet: run `make analyze`"), file=sys.stderr
        )
        return 0
    for m in shown:
        flag = " (forgotten)" if m.id in store.forgotten else ""
        flag = flag or (" (superseded)" if m.id in store.superseded else "")
        print(f"{m.created_at[:10]}  {m.kind:<10}  {m.text}{flag}")
        print(
            f"{'':12}{m.id}  session {m.session_id[:12]}  from {', '.join(m.sources[:3])}"
            + (" …" if len(m.sources) > 3 else "")
        )
    return 0
