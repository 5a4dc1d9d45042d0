"""Command line of the analyzer: `python -m analyze [--config PATH] [COMMAND]`.

python -m analyze                 watch: the backlog first, then new captures as they arrive
python -m analyze --once          process everything pending, then exit
python -m analyze status [--json] pending, processed, quarantined, failed; memories; spend
python -m analyze list [...]      the current memories
python -m analyze usage [...]     tokens and cost read off the captures
python -m analyze search|forget|restore|export|mcp   see analyze/recall/commands.py

Exit codes (EXIT_CODES): 0 done; 1 captures failed in this run (an extraction
call, or a bug, logged with its traceback); 2 a setup problem (config, API
key, another analyzer running, a bad argument).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from analyze.backends import SetupError, make_backend
from analyze.captures import capture_exists, iter_captures
from analyze.ledger import AlreadyRunning, Ledger
from analyze.pipeline import SETTLE_S, Analyzer
from analyze.recall import commands as recall_commands
from analyze.store import MemoryStore
from analyze.usage import cli as usage_cli
from analyze.usage import database as usage_database
from analyze.usage.scan import analyzer_spend
from analyze.watch import run_once, watch
from glass.config import Config, ConfigError, load_config
from glass.hints import make_command

logger = logging.getLogger("glass.analyze")

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2
EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}  done (watch: stopped by SIGINT/SIGTERM)
  {EXIT_FAILED}  some captures failed in this run: an extraction call failed (they are retried
     at the next start; see `status`), or a bug (logged with its traceback)
  {EXIT_SETUP}  setup problem: the config, the API key, another analyzer on the same state folder
"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    parser = argparse.ArgumentParser(
        prog="python -m analyze",
        parents=[common],
        description="Glass analyzer: captures in, memories out.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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

    usage_cli.add_arguments(sub.add_parser("usage", parents=[common], help="token and cost report"))
    recall_commands.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(getattr(args, "config", None))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_SETUP
    if args.command == "status":
        return cmd_status(cfg, as_json=args.json)
    if args.command == "list":
        return cmd_list(cfg, args)
    if args.command == "usage":
        return usage_cli.run(args, cfg)
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
        return EXIT_SETUP
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        analyzer = Analyzer(cfg, backend=backend)
    except AlreadyRunning as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_SETUP
    try:
        if once:
            run_once(analyzer, stop=stop)
        else:
            watch(analyzer, observer_kind=cfg.analyze.observer, stop=stop)
    finally:
        analyzer.close()
    print(f"glass analyze: {analyzer.stats.summary()}{_left_pending(analyzer)}", file=sys.stderr)
    stats = analyzer.stats
    return EXIT_FAILED if stats.failed or stats.errors else EXIT_OK


def _left_pending(analyzer: Analyzer) -> str:
    """What the run leaves pending, and why: exchanges in flight, files not readable yet."""
    unreadable = sum(1 for p in analyzer.parked.values() if p.unreadable)
    in_flight = len(analyzer.parked) - unreadable
    parts = []
    if in_flight:
        parts.append(f"{in_flight} in flight (no response yet), left pending")
    if unreadable:
        parts.append(
            f"{unreadable} unreadable file{'' if unreadable == 1 else 's'} changed in the last"
            f" {SETTLE_S:.0f} s (still being written?), left pending"
        )
    return "".join(f"; {part}" for part in parts)


def _stop_on_signals(stop: threading.Event) -> None:
    """First SIGINT/SIGTERM: finish the batch in flight, then exit 0. Second: exit now."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(128 + signum)
        logger.info("stopping after the batch in flight (again to stop at once)")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cmd_status(cfg: Config, *, as_json: bool) -> int:
    a = cfg.analyze
    ledger = Ledger.open_readonly(a.state_path)
    try:
        counts = ledger.counts() if ledger else {"processed": 0, "quarantined": 0, "failed": 0}
        finished = ledger.finished() if ledger else set()
        calls = list(ledger.calls()) if ledger else []
        quarantined = ledger.problems("quarantined") if ledger else []
        failed = ledger.problems("failed") if ledger else []
    finally:
        if ledger:
            ledger.close()
    pending = sum(
        1 for ref in iter_captures(cfg.capture.dir, endpoint="messages") if ref.rel not in finished
    )
    store = MemoryStore(a.store_path).load()
    spend = analyzer_spend(calls, cfg.usage.prices, use_database=cfg.usage.genai_prices)
    tokens = spend.tokens
    failed_calls = sum(1 for c in calls if not c.ok)
    if as_json:
        report = {
            **counts,
            "pending": pending,
            "memories": len(store.current()),
            "memories_total": len(store.memories),
            "calls": len(calls),
            "failed_calls": failed_calls,
            **tokens.to_usage(),
            "cost_usd": spend.cost_usd,
            "unpriced_models": spend.unpriced_models,
            "captures_dir": str(cfg.capture.dir),
            "store": str(a.store_path),
            "quarantined_files": [{"capture": r, "reason": why} for r, why in quarantined],
            "failed_files": [{"capture": r, "reason": why} for r, why in failed],
        }
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    cost = spend.cost_usd
    print(
        f"captures   {pending} pending, {counts['processed']} processed, "
        f"{counts['quarantined']} quarantined, {counts['failed']} failed  ({cfg.capture.dir})"
    )
    print(
        f"memories   {len(store.current())} current ({len(store.memories)} stored)"
        f"  ({a.store_path})"
    )
    print(
        f"spend      {len(calls)} calls, {tokens.input:,} input + "
        f"{tokens.cache_write:,} cache-write + "
        f"{tokens.cache_read:,} cache-read + {tokens.output:,} output tokens, "
        + (
            f"cost ? (no price for {', '.join(spend.unpriced_models)} in usage.prices"
            f" nor in {usage_database.NAME})"
            if cost is None
            else f"${cost:.4f}"
        )
    )
    for label, rows in (("quarantined", quarantined), ("failed", failed)):
        for rel, why in rows[:10]:
            print(f"  {label}: {rel}: {why}")
    return EXIT_OK


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    store = MemoryStore(cfg.analyze.store_path).load()
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
        hint = f" yet: run `{make_command('analyze', config=cfg.path)}`"
        print("no memories" + (" match" if memories else hint), file=sys.stderr)
        return 0
    root = cfg.capture.dir
    for m in shown:
        flag = " (forgotten)" if m.id in store.forgotten else ""
        flag = flag or (" (superseded)" if m.id in store.superseded else "")
        print(f"{m.created_at[:10]}  {m.kind:<10}  {m.text}{flag}")
        sources = [rel if capture_exists(root, rel) else f"{rel} (gone)" for rel in m.sources[:3]]
        print(
            f"{'':12}{m.id}  session {m.session_id[:12]}  from {', '.join(sources)}"
            + (" …" if len(m.sources) > 3 else "")
        )
    return 0
