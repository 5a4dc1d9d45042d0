"""view/cost.py: tokens priced by the usage report's own rule."""

from __future__ import annotations

import pytest

from analyze.usage.prices import Pricer
from analyze.usage.scan import when
from glass.tokens import Price, Tokens
from view.cost import Costs, add

PRICE = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)
AT = "2026-11-30T10:00:00.000+00:00"


def test_a_dated_model_is_priced_by_its_base_name():
    costs = Costs({"claude-sonnet-4-5": PRICE}, use_database=False)
    tokens = Tokens(
        input=1000, cache_write_5m=100, cache_write_1h=10, cache_read=10_000, output=200
    )
    want = (1000 * 3.0 + 100 * 3.75 + 10 * 6.0 + 10_000 * 0.3 + 200 * 15.0) / 1e6
    got = costs.of(tokens, model="claude-sonnet-4-5-20250929", provider="anthropic", captured_at=AT)
    assert got == pytest.approx(want)


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-5-20250929", "anthropic"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"),
        ("claude-sonnet-4-5@20250929", "vertex"),
    ],
)
def test_out_of_the_box_each_request_costs_what_the_usage_report_says(model, provider):
    # A prompt over 200,000 tokens: a long-context tier where the database has one.
    tokens = Tokens(input=150_000, cache_read=60_000, output=900)
    got = Costs({}).of(tokens, model=model, provider=provider, captured_at=AT)
    want = Pricer({}).cost(tokens, model=model, provider=provider, at=when(AT))
    assert got is not None and got == want


def test_no_price_is_unknown_and_no_tokens_cost_nothing():
    costs = Costs({}, use_database=False)
    assert costs.of(Tokens(input=1), model="claude-x", provider="anthropic", captured_at=AT) is None
    assert costs.of(Tokens(), model="claude-x", provider="anthropic", captured_at=AT) == 0.0
    assert add(1.0, None) is None and add(1.0, 2.0) == 3.0
