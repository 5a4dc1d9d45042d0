"""view/usage_page.py: the numbers are build_report's, the chart adds up to them."""

from __future__ import annotations

import pytest

from analyze.usage import render
from analyze.usage.scan import build_report
from tests import viewdata
from view.usage_page import HEIGHT, build


def test_table_and_totals_are_the_usage_reports(config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        session_id="s2",
        start=viewdata.datetime(2026, 11, 23, 9, 0, tzinfo=viewdata.TZ),
    )
    view = build(config, since=None, until=None)
    report = build_report(
        captures_dir=config.capture.dir,
        prices=config.usage.prices,
        state_dir=config.analyze.state_dir,
    )
    assert view.table == render.render_table(report)
    assert view.total == render.row_json(report.total)
    tokens, dollars = view.charts
    assert sum(b.value for b in tokens.bars) == report.total.tokens.total
    assert sum(b.value for b in dollars.bars) == pytest.approx(report.total.priced_usd)
    assert [d for d, _ in tokens.days] == ["2026-11-21", "2026-11-23"]
    assert all(b.y >= 0 and b.y + b.height <= HEIGHT + 1e-6 for b in tokens.bars)
    labels = {b.label.split(": ")[0] for b in tokens.bars}
    assert "2026-11-21 claude-sonnet-4-5-20250929 · main" in labels
    assert "2026-11-21 claude-haiku-4-5-20251001 · side" in labels


def test_a_range(config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    view = build(config, since="2026-11-22", until="2026-11-30")
    assert view.total["requests"] == 0 and view.charts[0].bars == []
