"""How a usage report looks: the terminal table, the `--json` lines, footnotes, warnings.

Pure functions of an `analyze.usage.scan.Report`; nothing here reads a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from analyze.usage import database
from analyze.usage.models import DEFAULT_PROVIDER, bedrock_id, first_party
from analyze.usage.prices import CONFIG_SOURCE, DATABASE_SOURCE, undated
from analyze.usage.scan import Report, Row

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

COLUMNS = ("requests", "input", "cache write", "cache read", "output", "cost", "incomplete")


def row_json(row: Row) -> dict[str, Any]:
    """The `--json` row: the documented keys, in a stable order."""
    cost = row.cost_usd
    return {
        "key": row.key,
        "scope": row.scope,
        "requests": row.requests,
        **row.tokens.to_usage(),
        "cost_usd": None if cost is None else round(cost, 9),
        "incomplete": row.incomplete,
        "priced_by": dict(sorted(row.sources.items())),
    }


def money(row: Row) -> str:
    """The cost cell: `$0.3739`, `$12.40`, `?` (no price at all), `$0.0100+?` (partly)."""
    if row.unpriced and not row.priced_usd:
        return "?"
    value = row.priced_usd
    text = f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"
    return f"{text}+?" if row.unpriced else text


def _cells(row: Row) -> list[str]:
    t = row.tokens
    return [
        row.key,
        row.scope,
        f"{row.requests:,}",
        f"{t.input:,}",
        f"{t.cache_write:,}",
        f"{t.cache_read:,}",
        f"{t.output:,}",
        money(row),
        f"{row.incomplete:,}" if row.incomplete else "",
    ]


def render_table(report: Report) -> str:
    """The terminal table: one line per (key, scope), a TOTAL line, then footnotes."""
    header = [report.by, "scope", *COLUMNS]
    body = [_cells(row) for row in report.rows]
    total = _cells(report.total)
    widths = [max(len(line[i]) for line in [header, total, *body]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(fmt(header))
    rows = [fmt(cells) for cells in body] or ["(no requests in range)"]
    lines = [fmt(header), rule, *rows, rule, fmt(total)]
    return "\n".join(lines + footer(report))


def json_rows(report: Report) -> Iterator[str]:
    """One JSON object per row, one per line (no TOTAL: `jq -s` adds up)."""
    for row in report.rows:
        yield json.dumps(row_json(row), ensure_ascii=False)


def footer(report: Report) -> list[str]:
    """Lines about how it was counted: the price sources, incomplete exchanges, duplicates."""
    lines = price_sources(report)
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


def price_sources(report: Report) -> list[str]:
    """One line naming which source priced which model (on which provider), or none."""
    named: dict[str, list[str]] = {CONFIG_SOURCE: [], DATABASE_SOURCE: []}
    for (model, provider), source in report.price_sources.items():
        label = model if provider == DEFAULT_PROVIDER else f"{model} ({provider})"
        if source.source == DATABASE_SOURCE and source.matched not in (
            model,
            bedrock_id(model),
            undated(first_party(model)),
        ):
            label += f" as {source.matched}"
        named[source.source].append(label)
    parts = []
    if named[CONFIG_SOURCE]:
        parts.append(f"{CONFIG_SOURCE} for " + ", ".join(named[CONFIG_SOURCE]))
    if named[DATABASE_SOURCE]:
        parts.append(f"{database.NAME} for " + ", ".join(named[DATABASE_SOURCE]))
    return ["prices: " + "; ".join(parts)] if parts else []


def notes(report: Report, *, config_name: str, make: Callable[[str], str]) -> list[str]:
    """Warnings for stderr: missing captures, bad files, unpriced models, ledger trouble.

    `make` renders a make command as the user must type it for this config
    (`glass.hints.make_command`).
    """
    lines = []
    if not report.captures_found:
        lines.append(
            f"note: no captures folder at {report.captures_dir} (capture.dir in {config_name});"
            f" run `{make('capture')}` and `{make('run-claude')}` to record some"
        )
    if report.bad:
        lines.append(
            f"warning: skipped {report.bad} unreadable capture file{'s' if report.bad != 1 else ''}"
            f" in {report.captures_dir}: "
            + "; ".join(report.bad_examples)
            + ("; ..." if report.bad > len(report.bad_examples) else "")
        )
    if report.unpriced_models:
        lines.append(unpriced_warning(report.unpriced_models, config_name=config_name))
    if report.ledger_problem:
        lines.append(f"warning: {report.ledger_problem}")
    return lines


def unpriced_warning(models: list[str], *, config_name: str) -> str:
    """The warning naming models without a price (the usage report's and `status`'s)."""
    return (
        f"warning: no price for {', '.join(models)} in usage.prices ({config_name})"
        f" nor in {database.NAME}; their cost shows as ?"
    )
