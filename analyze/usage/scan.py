"""The usage computation: rows of requests, tokens and cost, without any printing.

Every captured response carries the API's own `usage`; `build_report()` adds
them up per day, model or session, main loop apart from side calls (see
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
`since`/`until` without reading them, and does little beyond one parse per
file (`analyze.captures.parse`). Files the reader rejects
(`analyze.captures.BadCapture`) are counted and named in `Report.bad_examples`;
any other exception is a bug and propagates.

Each request is priced by `analyze.usage.prices.Pricer` (config override,
else genai-prices) with its model as the capture names it, its provider and
its time; `--by model` groups a model's Bedrock and Vertex ids with its
first-party id (`analyze.usage.models.first_party`).

`analyzer_spend()` is the same sum over the ledger's calls alone (for `status`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from analyze.captures import BadCapture, CaptureRef, iter_captures, read_capture_sized
from analyze.conversation import model as model_of
from analyze.conversation import scope as scope_of
from analyze.conversation import session_id
from analyze.ledger import Call, Ledger
from analyze.progress import Progress
from analyze.usage.models import DEFAULT_PROVIDER, first_party, provider_of
from analyze.usage.prices import UNKNOWN_MODEL, Pricer, Source
from glass.tokens import ZERO, Price, Tokens

By = Literal["day", "model", "provider", "session"]
BY_CHOICES: tuple[By, ...] = ("day", "model", "provider", "session")
SCOPES = ("main", "side", "analyzer")
ANALYZER_KEY = "analyzer"
"""The key of the analyzer's spend in `--by session` (its calls have no session)."""
ANALYZER_PROVIDER = DEFAULT_PROVIDER
"""The provider the analyzer's own calls are priced at and shown under (`--by provider`)."""
PROGRESS_MIN_FILES = 3000
BAD_EXAMPLES = 3


@dataclass(slots=True, kw_only=True)
class Row:
    """Requests, tokens and cost of one (key, scope); mutable while adding up."""

    key: str
    scope: str
    requests: int = 0
    tokens: Tokens = ZERO
    incomplete: int = 0
    priced_usd: float = 0.0
    """Cost of the requests whose model has a price."""
    unpriced: int = 0
    """Requests with tokens but no price: the row's cost is unknown."""
    sources: dict[str, str | None] = field(default_factory=dict)
    """Model (as the captures name it) -> the source that priced it, None for no price."""

    @property
    def cost_usd(self) -> float | None:
        return None if self.unpriced else self.priced_usd

    def add(self, other: Row) -> None:
        self.requests += other.requests
        self.tokens += other.tokens
        self.incomplete += other.incomplete
        self.priced_usd += other.priced_usd
        self.unpriced += other.unpriced
        for model, source in other.sources.items():
            if self.sources.get(model) is None:
                self.sources[model] = source

    def charge(
        self,
        tokens: Tokens,
        *,
        model: str | None,
        provider: str,
        at: datetime | None,
        pricer: Pricer,
    ) -> None:
        """Add one request's tokens and their cost, or mark the row unpriced."""
        if not tokens:
            return  # nothing billed: no price needed
        self.tokens += tokens
        cost = pricer.cost(tokens, model=model, provider=provider, at=at)
        name = model or UNKNOWN_MODEL
        if cost is None:
            self.unpriced += 1
            self.sources.setdefault(name, None)
            return
        self.priced_usd += cost
        self.sources[name] = pricer.sources[(name, provider)].source


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
    """Incomplete exchanges by reason (see `incomplete_reason`)."""
    unpriced_models: list[str] = field(default_factory=list)
    """Models with tokens and no price, as `model` or `model (provider)` off the Anthropic API."""
    price_sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    """(model, provider) -> the source that priced it."""
    ledger_problem: str | None = None


@dataclass(frozen=True, kw_only=True)
class Spend:
    """The analyzer's own calls, summed."""

    tokens: Tokens
    cost_usd: float | None
    """None when a model among the calls has no price."""
    unpriced_models: list[str]


def incomplete_reason(
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

    def __init__(self, *, by: By, pricer: Pricer) -> None:
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
            doc, _, size = read_capture_sized(ref.fspath)
        except FileNotFoundError:
            return  # vanished since the listing: not ours to count
        except BadCapture as e:
            self.add_bad(ref.rel, str(e))
            return
        except OSError as e:
            self.add_bad(ref.rel, f"cannot read: {e.strerror or e}")
            return
        # `size` is the JSON's, so a capture counts once whether plain or compressed.
        self.add_capture(doc, day=ref.day, endpoint=ref.endpoint, size=size)

    def add_capture(self, doc: dict[str, Any], *, day: str, endpoint: str, size: int) -> None:
        """Count one capture document (of the shape `analyze.captures.check_shape` accepts)."""
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
        model = model_of(doc)
        provider = provider_of(doc)
        key = self._key(doc, day=day, model=model, provider=provider)
        row = self.row(key, scope_of(doc, endpoint))
        self.seen.add(identity)
        row.requests += 1
        reason = incomplete_reason(doc, response, body, usage, endpoint)
        if reason is not None:
            row.incomplete += 1
            self.incomplete[reason] += 1
        row.charge(
            Tokens.from_usage(usage),
            model=model,
            provider=provider,
            at=when(doc.get("captured_at")),
            pricer=self.pricer,
        )

    def _key(self, doc: dict[str, Any], *, day: str, model: str | None, provider: str) -> str:
        if self.by == "day":
            return day
        if self.by == "model":
            return first_party(model) if model else UNKNOWN_MODEL
        if self.by == "provider":
            return provider
        return session_id(doc)

    def add_call(self, call: Call) -> None:
        """One analyzer call from the ledger; its own cost when it reported one."""
        if self.by == "day":
            key = call.at[:10]  # local ISO time: its date is the local day
        elif self.by == "model":
            key = first_party(call.model)
        elif self.by == "provider":
            key = ANALYZER_PROVIDER
        else:
            key = ANALYZER_KEY
        row = self.row(key, "analyzer")
        row.requests += 1
        if not call.ok:
            row.incomplete += 1
            self.incomplete["analyzer_failed"] += 1
        if call.cost_usd is not None:
            row.tokens += call.tokens
            row.priced_usd += call.cost_usd
            return
        row.charge(
            call.tokens,
            model=call.model,
            provider=ANALYZER_PROVIDER,
            at=when(call.at),
            pricer=self.pricer,
        )


def when(value: Any) -> datetime | None:
    """An ISO 8601 time (`captured_at`, a ledger call's `at`), or None (priced as of now)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def missing_labels(pricer: Pricer) -> list[str]:
    """The models without a price, named `model`, or `model (provider)` off the Anthropic API;
    `… (…, 1-hour cache writes)` when only its 1-hour cache-write rate is missing."""

    def label(model: str, provider: str) -> str:
        why = [provider] if provider != DEFAULT_PROVIDER else []
        if (model, provider) in pricer.without_1h_rate:
            why.append("1-hour cache writes")
        return f"{model} ({', '.join(why)})" if why else model

    return sorted({label(m, p) for m, p in pricer.missing}, key=str.lower)


def analyzer_spend(
    calls: Iterable[Call], prices: dict[str, Price], *, use_database: bool = True
) -> Spend:
    """Tokens and cost of the analyzer's own calls, summed (for `status`), priced like the report."""
    scan = _Scan(by="session", pricer=Pricer(prices, use_database=use_database))
    for call in calls:
        scan.add_call(call)
    total = total_of(scan.rows.values())
    return Spend(
        tokens=total.tokens,
        cost_usd=total.cost_usd,
        unpriced_models=missing_labels(scan.pricer),
    )


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


def build_report(
    *,
    captures_dir: Path,
    prices: dict[str, Price],
    by: By = "day",
    since: str | None = None,
    until: str | None = None,
    state_dir: Path | None = None,
    progress: TextIO | None = None,
    use_database: bool = True,
) -> Report:
    """Add up every capture under `captures_dir` (and the ledger in `state_dir`).

    `prices` is `usage.prices` (the override); `use_database` is
    `usage.genai_prices` (False: `prices` alone). `since` / `until` are
    inclusive `YYYY-MM-DD` days. `progress` is the stream for a progress bar,
    shown when it is a terminal and there are more than PROGRESS_MIN_FILES files.
    """
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {BY_CHOICES}, not {by!r}")
    pricer = Pricer(prices, use_database=use_database)
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
        total=total_of(rows),
        captures_dir=captures_dir,
        captures_found=captures_dir.is_dir(),
        files=scan.files,
        bad=scan.bad,
        bad_examples=scan.bad_examples,
        duplicates=scan.duplicates,
        incomplete=scan.incomplete,
        unpriced_models=missing_labels(pricer),
        price_sources=dict(sorted(pricer.sources.items())),
        ledger_problem=ledger_problem,
    )


def _count_files(root: Path, since: str | None, until: str | None) -> int:
    try:
        return sum(1 for _ in iter_captures(root, since=since, until=until))
    except OSError:
        return 0  # reported when the scan gets there


def _progress_bar(
    root: Path, since: str | None, until: str | None, stream: TextIO | None
) -> Progress | None:
    if stream is None or not stream.isatty():
        return None
    total = _count_files(root, since, until)
    if total <= PROGRESS_MIN_FILES:
        return None
    return Progress(total, label="usage", stream=stream, enabled=True)


def total_of(rows: Iterable[Row]) -> Row:
    """The TOTAL row of `rows`."""
    total = Row(key="TOTAL", scope="")
    for row in rows:
        total.add(row)
    return total


def _sorted_rows(rows: Iterable[Row], *, by: By) -> list[Row]:
    """Days oldest first; models, providers and sessions by cost, then tokens, largest first.

    Within a key: main, side, analyzer. The `analyzer` session comes last.
    """
    rows = list(rows)
    per_key: dict[str, Row] = {}
    for row in rows:
        per_key.setdefault(row.key, Row(key=row.key, scope="")).add(row)

    def key_order(key: str) -> tuple[Any, ...]:
        if by == "day":
            return (key,)
        group = per_key[key]
        return (
            by == "session" and key == ANALYZER_KEY,
            -group.priced_usd,
            -group.tokens.total,
            key,
        )

    return sorted(rows, key=lambda r: (key_order(r.key), SCOPES.index(r.scope)))
