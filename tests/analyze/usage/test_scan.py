"""analyze/usage/scan.py: the computation alone, without rendering."""

from __future__ import annotations

import io

import pytest

from analyze.ledger import Call
from analyze.usage import scan
from glass.tokens import Price, Tokens
from tests import corpus

HAIKU = Price(input=0.8, output=4.0, cache_write_5m=1.0, cache_write_1h=1.6, cache_read=0.08)


def test_progress_bar_on_a_terminal_for_many_files(monkeypatch, tmp_path):
    captures = tmp_path / "captures"
    corpus.write_session(captures, corpus.SESSION_64, limit=10)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(scan, "PROGRESS_MIN_FILES", 5)
    result = scan.build_report(captures_dir=captures, prices={}, progress=stream)
    assert result.files == 10 and "usage [" in stream.getvalue()
    quiet = io.StringIO()
    scan.build_report(captures_dir=captures, prices={}, progress=quiet)
    assert quiet.getvalue() == ""


def test_report_rows_carry_tokens_and_the_total_adds_them_up(tmp_path):
    captures = tmp_path / "captures"
    corpus.write_session(captures, corpus.SESSION_64)
    report = scan.build_report(captures_dir=captures, prices={"claude-3-5-haiku": HAIKU})
    assert report.rows and report.bad == 0
    summed = Tokens()
    for row in report.rows:
        summed += row.tokens
    assert report.total.tokens == summed and summed.total > 0
    assert report.total.requests == sum(r.requests for r in report.rows) == report.files


def test_analyzer_spend_sums_tokens_and_prices_them():
    calls = [
        Call(
            at="t",
            backend="anthropic",
            model="claude-3-5-haiku",
            ok=True,
            tokens=Tokens(input=1000),
        ),
        Call(
            at="t",
            backend="anthropic",
            model="claude-3-5-haiku",
            ok=False,
            tokens=Tokens(output=10),
        ),
        Call(
            at="t", backend="claude-cli", model="x", ok=True, tokens=Tokens(input=5), cost_usd=0.25
        ),
    ]
    spend = scan.analyzer_spend(calls, {"claude-3-5-haiku": HAIKU})
    assert spend.tokens == Tokens(input=1005, output=10)
    assert spend.cost_usd == pytest.approx(0.25 + (1000 * 0.8 + 10 * 4.0) / 1e6)
    assert spend.unpriced_models == []
    unpriced = scan.analyzer_spend(calls, {}, use_database=False)
    assert unpriced.cost_usd is None and unpriced.unpriced_models == ["claude-3-5-haiku"]
