"""`python -m analyze usage`: tokens and cost read off the captures.

Every captured response carries the API's own `usage`; this report adds them
up per day, model or session, main loop apart from side calls (see
`analyze.conversation.scope`), with the analyzer's own spend from its ledger
as a third scope. It relies only on README.md, "Capture file format":

- a streamed response's `response.body` is the reassembled Message whose
  `usage` already merges `message_start` with the cumulative `message_delta`,
  so each response's `usage` is read exactly once and never summed twice;
- a response is counted once, keyed by its message `id` (a copy of a capture
  under another name is a duplicate), else by its capture (`captured_at` and
  size: a byte-for-byte copy has both);
- exchanges without a full `usage` are counted and flagged `incomplete`: a cut
  stream, a stream `error` event, a failed exchange (`error`), an HTTP error
  status, a capture with no response yet;
- `count_tokens` calls are side requests with no tokens billed.

It streams over the files one day folder at a time, skips day folders outside
`--since`/`--until` without reading them, and does little beyond one
`json.loads` per file. Bad files are skipped and summed up in one line.

Public API: `build_report()` (the whole aggregation, no printing),
`find_price()`, `cost_usd()`, `render_table()`, `json_rows()`, `notes()`, and
the CLI hooks `add_arguments()` / `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TextIO

from analyze.captures import BadCapture, CaptureRef, iter_captures, read_capture_stat
from analyze.conversation import model as model_of
from analyze.conversation import scope as scope_of
from analyze.conversation import session_id
from analyze.ledger import Call, Ledger
from analyze.progress import Progress
from glass.config import Config, Price

By = Literal["day", "model", "session"]
BY_CHOICES: tuple[By, ...] = ("day", "model", "session")
SCOPES = ("main", "side", "analyzer")
ANALYZER_KEY = "analyzer"
"""The key of the analyzer's spend in `--by session` (its calls have no session)."""
UNKNOWN_MODEL = "unknown"
PROGRESS_MIN_FILES = 3000
BAD_EXAMPLES = 3

REASONS: dict[str, str] = {
    "cut_stream": "cut stream",
    "stream_error": "stream error event",
    "error": "failed exchange",
    "http_error": "HTTP error status",
    "no_response": "no response yet",
    "no_usage": "response without usage",
    "analyzer_failed": "failed analyzer call",
}
"""Why an exchange is incomplete -> how the footer names it."""

_DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|[-@]\d{4}-\d{2}-\d{2})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- rows ----------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Row:
    """Requests, tokens and cost of one (key, scope); mutable while adding up."""

    key: str
    scope: str
    requests: int = 0
    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    incomplete: int = 0
    priced_usd: float = 0.0
    """Cost of the requests whose model has a price."""
    unpriced: int = 0
    """Requests with tokens but no price: the row's cost is unknown."""

    @property
    def cost_usd(self) -> float | None:
        return None if self.unpriced else self.priced_usd

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
            + self.output_tokens
        )

    def add(self, other: Row) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.cache_creation_input_tokens += other.cache_creation_input_tokens
        self.cache_read_input_tokens += other.cache_read_input_tokens
        self.output_tokens += other.output_tokens
        self.incomplete += other.incomplete
        self.priced_usd += other.priced_usd
        self.unpriced += other.unpriced

    def to_json(self) -> dict[str, Any]:
        """The `--json` row: the documented keys, in a stable order."""
        cost = self.cost_usd
        return {
            "key": self.key,
            "scope": self.scope,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if cost is None else round(cost, 9),
            "incomplete": self.incomplete,
        }


@dataclass(kw_only=True)
class Report:
    """Everything the report shows; `build_report()` makes it."""

    by: By
    rows: list[Row]
    total: Row
    captures_dir: Path
    captures_found: bool
    files: int = 0
    """Capture files read (in the date range), good or bad."""
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)
    duplicates: int = 0
    incomplete: Counter[str] = field(default_factory=Counter)
    unpriced_models: list[str] = field(default_factory=list)
    ledger_problem: str | None = None


# -- prices --------------------------------------------------------------------------


def find_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of `model`: its exact id first, then the id without a date suffix.

    `claude-sonnet-4-20250514`, `claude-sonnet-4@20250514` and
    `claude-sonnet-4-2025-05-14` all match a `claude-sonnet-4` price, and a
    dated price key also matches its undated model id.
    """
    if model in prices:
        return prices[model]
    base = _DATE_SUFFIX.sub("", model)
    if base in prices:
        return prices[base]
    for key, price in prices.items():
        if _DATE_SUFFIX.sub("", key) == base:
            return price
    return None


def cost_usd(
    price: Price,
    *,
    input_tokens: int,
    cache_write_5m: int,
    cache_write_1h: int,
    cache_read: int,
    output_tokens: int,
) -> float:
    """Dollars for these tokens at `price` (dollars per million tokens)."""
    return (
        input_tokens * price.input
        + cache_write_5m * price.cache_write_5m
        + cache_write_1h * price.cache_write_1h
        + cache_read * price.cache_read
        + output_tokens * price.output
    ) / 1e6


class _Pricer:
    """`find_price` with a cache, and a record of the models that had none."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = prices
        self.cache: dict[str, Price | None] = {}
        self.missing: set[str] = set()

    def price(self, model: str | None) -> Price | None:
        if model is None:
            return None
        if model not in self.cache:
            self.cache[model] = find_price(model, self.prices)
        return self.cache[model]

    def charge(
        self, row: Row, model: str | None, *, i: int, cw: int, cw1h: int, cr: int, o: int
    ) -> None:
        """Add the cost of one request to `row`, or mark it unpriced."""
        if not (i or cw or cr or o):
            return  # nothing billed: no price needed
        price = self.price(model)
        if price is None:
            row.unpriced += 1
            self.missing.add(model or UNKNOWN_MODEL)
            return
        row.priced_usd += cost_usd(
            price,
            input_tokens=i,
            cache_write_5m=cw - cw1h,
            cache_write_1h=cw1h,
            cache_read=cr,
            output_tokens=o,
        )


# -- reading captures ----------------------------------------------------------------


def _count_files(root: Path, since: str | None, until: str | None) -> int:
    try:
        return sum(1 for _ in iter_captures(root, since=since, until=until))
    except OSError:
        return 0  # reported when the scan gets there


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _incomplete(
    doc: dict[str, Any], response: dict[str, Any] | None, body: Any, usage: Any, endpoint: str
) -> str | None:
    """Why this exchange has no full usage, or None when it has one."""
    if "error" in doc:
        return "error"
    if response is None:
        return "no_response"
    if response.get("status") != 200:
        return "http_error"
    if response.get("stream_error"):
        return "stream_error"
    streamed = response.get("streamed")
    if streamed and response.get("complete") is False:
        return "cut_stream"
    if endpoint == "messages" and not isinstance(usage, dict):
        return "no_usage"
    if streamed and isinstance(body, dict) and body.get("stop_reason") is None:
        return "cut_stream"
    return None


class _Scan:
    """The aggregation state of one report: rows by (key, scope), ids seen, problems."""

    def __init__(self, *, by: By, pricer: _Pricer) -> None:
        self.by = by
        self.pricer = pricer
        self.rows: dict[tuple[str, str], Row] = {}
        # One entry per response counted: a message id (~30 characters, about
        # 100 bytes with the set's overhead), so ~10 MB per 100,000 responses.
        self.seen: set[Any] = set()
        self.files = 0
        self.bad = 0
        self.bad_examples: list[str] = []
        self.duplicates = 0
        self.incomplete: Counter[str] = Counter()

    def row(self, key: str, scope: str) -> Row:
        row = self.rows.get((key, scope))
        if row is None:
            row = self.rows[(key, scope)] = Row(key=key, scope=scope)
        return row

    def add_bad(self, rel: str, reason: str) -> None:
        self.bad += 1
        if len(self.bad_examples) < BAD_EXAMPLES:
            self.bad_examples.append(f"{rel} ({reason})")

    def add_file(self, ref: CaptureRef) -> None:
        self.files += 1
        try:
            doc, st = read_capture_stat(ref.fspath)
            self.add_capture(doc, day=ref.day, endpoint=ref.endpoint, size=st.st_size)
        except FileNotFoundError:
            return  # vanished since the listing: not ours to count
        except BadCapture as e:
            self.add_bad(ref.rel, str(e))
        except OSError as e:
            self.add_bad(ref.rel, f"cannot read: {e.strerror or e}")

    def add_capture(self, doc: dict[str, Any], *, day: str, endpoint: str, size: int) -> None:
        """Count one capture document, or raise BadCapture before counting anything."""
        response = doc.get("response")
        body = response.get("body") if response is not None else None
        usage = body.get("usage") if isinstance(body, dict) else None
        message_id = body.get("id") if isinstance(body, dict) else None
        identity = (
            message_id if isinstance(message_id, str) and message_id else (doc["captured_at"], size)
        )
        if identity in self.seen:
            self.duplicates += 1
            return
        try:
            model = model_of(doc)
            scope = scope_of(doc, endpoint)
            key = self._key(doc, day=day, model=model)
            reason = _incomplete(doc, response, body, usage, endpoint)
        except (AttributeError, TypeError, ValueError) as e:  # odd types deep inside
            raise BadCapture(f"wrong shape: {e}") from None
        self.seen.add(identity)
        row = self.row(key, scope)
        row.requests += 1
        if reason is not None:
            row.incomplete += 1
            self.incomplete[reason] += 1
        if not isinstance(usage, dict):
            return
        self._add_usage(row, usage, model)

    def _key(self, doc: dict[str, Any], *, day: str, model: str | None) -> str:
        if self.by == "day":
            return day
        if self.by == "model":
            return model or UNKNOWN_MODEL
        return session_id(doc)

    def _add_usage(self, row: Row, usage: dict[str, Any], model: str | None) -> None:
        i = _int(usage.get("input_tokens"))
        cr = _int(usage.get("cache_read_input_tokens"))
        o = _int(usage.get("output_tokens"))
        split = usage.get("cache_creation")
        cw1h = _int(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else 0
        cw = _int(usage.get("cache_creation_input_tokens"))
        if isinstance(split, dict):
            cw = max(cw, _int(split.get("ephemeral_5m_input_tokens")) + cw1h)
        row.input_tokens += i
        row.cache_creation_input_tokens += cw
        row.cache_read_input_tokens += cr
        row.output_tokens += o
        self.pricer.charge(row, model, i=i, cw=cw, cw1h=cw1h, cr=cr, o=o)

    def add_call(self, call: Call) -> None:
        """One analyzer call from the ledger; its own cost when it reported one."""
        if self.by == "day":
            key = call.at[:10]  # local ISO time: its date is the local day
        elif self.by == "model":
            key = call.model
        else:
            key = ANALYZER_KEY
        row = self.row(key, "analyzer")
        row.requests += 1
        if not call.ok:
            row.incomplete += 1
            self.incomplete["analyzer_failed"] += 1
        i, cw = call.input_tokens, call.cache_creation_input_tokens
        cr, o = call.cache_read_input_tokens, call.output_tokens
        row.input_tokens += i
        row.cache_creation_input_tokens += cw
        row.cache_read_input_tokens += cr
        row.output_tokens += o
        if call.cost_usd is not None:
            row.priced_usd += call.cost_usd
            return
        self.pricer.charge(row, call.model, i=i, cw=cw, cw1h=0, cr=cr, o=o)


def analyzer_spend(calls: Iterable[Call], prices: Mapping[str, Price]) -> dict[str, Any]:
    """Tokens and cost of the analyzer's own calls, summed (for `status`)."""
    scan = _Scan(by="session", pricer=_Pricer(prices))
    for call in calls:
        scan.add_call(call)
    total = _total(scan.rows.values()).to_json()
    spend = {
        k: total[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "cost_usd",
        )
    }
    spend["unpriced_models"] = sorted(scan.pricer.missing)
    return spend


def _add_ledger(
    scan: _Scan, state_dir: Path, *, since: str | None, until: str | None
) -> str | None:
    """Add the analyzer's calls in range; a problem message instead of a traceback."""
    try:
        ledger = Ledger.open_readonly(state_dir)
    except sqlite3.Error as e:
        return f"cannot read the analyzer's ledger in {state_dir}: {e}"
    if ledger is None:
        return None
    try:
        for call in ledger.calls():
            day = call.at[:10]
            if (since is None or day >= since) and (until is None or day <= until):
                scan.add_call(call)
    except sqlite3.Error as e:
        return f"cannot read the analyzer's ledger in {state_dir}: {e}"
    finally:
        ledger.close()
    return None


# -- the report ----------------------------------------------------------------------


def build_report(
    *,
    captures_dir: Path,
    prices: Mapping[str, Price],
    by: By = "day",
    since: str | None = None,
    until: str | None = None,
    state_dir: Path | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Add up every capture under `captures_dir` (and the ledger in `state_dir`).

    `since` / `until` are inclusive `YYYY-MM-DD` days. `progress` is the
    stream for a progress bar, shown when it is a terminal and there are more
    than PROGRESS_MIN_FILES files.
    """
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {BY_CHOICES}, not {by!r}")
    pricer = _Pricer(prices)
    scan = _Scan(by=by, pricer=pricer)
    bar = _progress_bar(captures_dir, since, until, progress)
    try:
        for ref in iter_captures(captures_dir, since=since, until=until):
            scan.add_file(ref)
            if bar is not None:
                bar.advance()
    except OSError as e:
        scan.add_bad(str(captures_dir), f"cannot list: {e.strerror or e}")
    finally:
        if bar is not None:
            bar.close()
    ledger_problem = _add_ledger(scan, state_dir, since=since, until=until) if state_dir else None
    rows = _sorted_rows(scan.rows.values(), by=by)
    return Report(
        by=by,
        rows=rows,
        total=_total(rows),
        captures_dir=captures_dir,
        captures_found=captures_dir.is_dir(),
        files=scan.files,
        bad=scan.bad,
        bad_examples=scan.bad_examples,
        duplicates=scan.duplicates,
        incomplete=scan.incomplete,
        unpriced_models=sorted(pricer.missing),
        ledger_problem=ledger_problem,
    )


def _progress_bar(
    root: Path, since: str | None, until: str | None, stream: TextIO | None
) -> Progress | None:
    if stream is None or not stream.isatty():
        return None
    total = _count_files(root, since, until)
    if total <= PROGRESS_MIN_FILES:
        return None
    return Progress(total, label="usage", stream=stream, enabled=True)


def _total(rows: Iterable[Row]) -> Row:
    total = Row(key="TOTAL", scope="")
    for row in rows:
        total.add(row)
    return total


def _sorted_rows(rows: Iterable[Row], *, by: By) -> list[Row]:
    """Days oldest first; models and sessions by cost, then tokens, largest first.

    Within a key: main, side, analyzer. The `analyzer` session comes last.
    """
    rows = list(rows)
    per_key: dict[str, Row] = {}
    for row in rows:
        per_key.setdefault(row.key, Row(key=row.key, scope="")).add(row)

    def key_order(key: str) -> tuple:
        if by == "day":
            return (key,)
        group = per_key[key]
        return (by == "session" and key == ANALYZER_KEY, -group.priced_usd, -group.tokens, key)

    return sorted(rows, key=lambda r: (key_order(r.key), SCOPES.index(r.scope)))


# -- output --------------------------------------------------------------------------


COLUMNS = ("requests", "input", "cache write", "cache read", "output", "cost", "incomplete")


def _money(row: Row) -> str:
    if row.unpriced and not row.priced_usd:
        return "?"
    value = row.priced_usd
    text = f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"
    return f"{text}+?" if row.unpriced else text


def _cells(row: Row) -> list[str]:
    return [
        row.key,
        row.scope,
        f"{row.requests:,}",
        f"{row.input_tokens:,}",
        f"{row.cache_creation_input_tokens:,}",
        f"{row.cache_read_input_tokens:,}",
        f"{row.output_tokens:,}",
        _money(row),
        f"{row.incomplete:,}" if row.incomplete else "",
    ]


def render_table(report: Report) -> str:
    """The terminal table: one line per (key, scope), a TOTAL line, then footnotes."""
    header = [report.by, "scope", *COLUMNS]
    body = [_cells(row) for row in report.rows]
    total = _cells(report.total)
    widths = [max(len(line[i]) for line in [header, total, *body]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:2], widths[:2])]
        right = [c.rjust(w) for c, w in zip(cells[2:], widths[2:])]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(fmt(header))
    rows = [fmt(cells) for cells in body] or ["(no requests in range)"]
    lines = [fmt(header), rule, *rows, rule, fmt(total)]
    return "\n".join(lines + footer(report))


def json_rows(report: Report) -> Iterator[str]:
    """One JSON object per row, one per line (no TOTAL: `jq -s` adds up)."""
    for row in report.rows:
        yield json.dumps(row.to_json(), ensure_ascii=False)


def footer(report: Report) -> list[str]:
    """Lines about what was counted specially: incomplete exchanges, duplicates."""
    lines = []
    if report.incomplete:
        n = sum(report.incomplete.values())
        named = sorted(
            ((REASONS.get(reason, reason), count) for reason, count in report.incomplete.items()),
            key=lambda item: (-item[1], item[0].lower()),
        )
        parts = ", ".join(f"{count} {label}" for label, count in named)
        lines.append(
            f"incomplete: {n} request{'s' if n != 1 else ''} ({parts});"
            " their tokens are what arrived"
        )
    if report.duplicates:
        lines.append(
            f"duplicates: {report.duplicates} capture(s) of a response already counted, skipped"
        )
    return lines


def notes(report: Report, *, config_name: str = "config.yaml") -> list[str]:
    """Warnings for stderr: missing captures, bad files, unpriced models, ledger trouble."""
    lines = []
    if not report.captures_found:
        lines.append(
            f"note: no captures folder at {report.captures_dir} (capture.dir in {config_name});"
            " run `make capture` and `make run-claude` to record some"
        )
    if report.bad:
        lines.append(
            f"warning: skipped {report.bad} unreadable capture file{'s' if report.bad != 1 else ''}"
            f" in {report.captures_dir}: "
            + "; ".join(report.bad_examples)
            + ("; ..." if report.bad > len(report.bad_examples) else "")
        )
    if report.unpriced_models:
        lines.append(
            f"warning: no price for {', '.join(report.unpriced_models)} in usage.prices"
            f" ({config_name}); their cost shows as ?"
        )
    if report.ledger_problem:
        lines.append(f"warning: {report.ledger_problem}")
    return lines


# -- command line --------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day to include (local date)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last day to include (local date)")
    parser.add_argument(
        "--by",
        choices=BY_CHOICES,
        default="day",
        help="one row per day (default), model or session, per scope",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per row and line, for jq"
    )


def parse_day(value: str | None, *, option: str) -> str | None:
    """`value` checked as a YYYY-MM-DD date, or ValueError naming `option`."""
    if value is None:
        return None
    try:
        if not _ISO_DAY.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option} {value!r} is not a date like 2026-11-21") from None
    return value


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        since = parse_day(getattr(args, "since", None), option="--since")
        until = parse_day(getattr(args, "until", None), option="--until")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if since and until and since > until:
        print(f"error: --since {since} is after --until {until}", file=sys.stderr)
        return 2
    report = build_report(
        captures_dir=cfg.capture.dir,
        prices=cfg.usage.prices,
        by=getattr(args, "by", "day"),
        since=since,
        until=until,
        state_dir=cfg.analyze.state_dir,
        progress=sys.stderr,
    )
    config_name = str(cfg.path) if cfg.path is not None else "config.yaml"
    try:
        if getattr(args, "json", False):
            for line in json_rows(report):
                print(line)
            sys.stdout.flush()
            _stderr(footer(report))
        else:
            print(render_table(report), flush=True)
    except BrokenPipeError:  # `... | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    _stderr(notes(report, config_name=config_name))
    return 0


def _stderr(lines: list[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)
