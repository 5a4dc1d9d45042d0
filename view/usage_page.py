"""The /usage page's data: `make usage`'s own report, and a chart of it per day.

The numbers are `analyze.usage.scan.build_report`'s (the computation of
`make usage`, read-only), and the table is `analyze.usage.render.render_table`
of that very report, so both equal `make usage` for the same range. The
chart stacks each day's tokens and cost by model and scope: one
`build_report(by="model")` per day, which reads only that day's folder. The
SVG is drawn by the template from the bar geometry computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analyze.usage import render
from analyze.usage.scan import By, Report, build_report
from glass.config import Config

WIDTH = 720
HEIGHT = 200
BAR_MAX = 48.0
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")


@dataclass(frozen=True, kw_only=True)
class Segment:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    color: str


@dataclass(frozen=True, kw_only=True)
class Chart:
    title: str
    unit: str
    bars: list[Segment]
    days: list[tuple[str, float]]
    """(day, x of its label)."""
    legend: list[tuple[str, str]]
    top: float


@dataclass(frozen=True, kw_only=True)
class UsageView:
    table: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    charts: list[Chart]
    since: str | None
    until: str | None
    notes: list[str]


def report(config: Config, *, by: By, since: str | None, until: str | None) -> Report:
    """`make usage`'s report over `config`'s captures and ledger (`python -m analyze usage`)."""
    return build_report(
        captures_dir=config.capture.dir,
        prices=config.usage.prices,
        by=by,
        since=since,
        until=until,
        state_dir=config.analyze.state_dir,
    )


def build(config: Config, *, since: str | None, until: str | None) -> UsageView:
    by_day = report(config, by="day", since=since, until=until)
    per_day: dict[str, dict[str, tuple[int, float]]] = {}
    for day in sorted({row.key for row in by_day.rows}):
        by_model = report(config, by="model", since=day, until=day)
        per_day[day] = {
            f"{row.key} · {row.scope}": (row.tokens.total, row.priced_usd) for row in by_model.rows
        }
    labels = sorted({label for parts in per_day.values() for label in parts})
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    charts = [
        _chart("tokens per day", "tokens", per_day, colors, lambda v: float(v[0])),
        _chart("cost per day (priced models)", "$", per_day, colors, lambda v: v[1]),
    ]
    return UsageView(
        table=render.render_table(by_day),
        rows=[render.row_json(r) for r in by_day.rows],
        total=render.row_json(by_day.total),
        charts=charts,
        since=since,
        until=until,
        notes=render.footer(by_day),
    )


def _chart(
    title: str,
    unit: str,
    per_day: dict[str, dict[str, tuple[int, float]]],
    colors: dict[str, str],
    value: Callable[[tuple[int, float]], float],
) -> Chart:
    days = sorted(per_day)
    totals = [sum(value(v) for v in per_day[d].values()) for d in days]
    top = max(totals, default=0.0)
    slot = WIDTH / max(1, len(days))
    bar_w = min(BAR_MAX, max(2.0, slot * 0.7))
    bars = []
    for i, day in enumerate(days):
        y = float(HEIGHT)
        for label in sorted(per_day[day]):
            v = value(per_day[day][label])
            if v <= 0:
                continue
            h = v / top * (HEIGHT - 10)  # v > 0, so top > 0
            y -= h
            bars.append(
                Segment(
                    label=f"{day} {label}: {v:,.4f}" if unit == "$" else f"{day} {label}: {v:,.0f}",
                    value=v,
                    x=i * slot + (slot - bar_w) / 2,
                    y=y,
                    width=bar_w,
                    height=h,
                    color=colors[label],
                )
            )
    return Chart(
        title=title,
        unit=unit,
        bars=bars,
        days=[(d, i * slot + slot / 2) for i, d in enumerate(days)],
        legend=sorted(colors.items()),
        top=top,
    )
