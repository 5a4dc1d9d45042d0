"""view/cost.py: tokens priced by the usage report's own rule."""

from __future__ import annotations

import pytest

from glass.tokens import Price, Tokens
from view.cost import Costs, add

PRICE = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)


def test_a_dated_model_is_priced_by_its_base_name():
    costs = Costs({"claude-sonnet-4-5": PRICE})
    tokens = Tokens(
        input=1000, cache_write_5m=100, cache_write_1h=10, cache_read=10_000, output=200
    )
    want = (1000 * 3.0 + 100 * 3.75 + 10 * 6.0 + 10_000 * 0.3 + 200 * 15.0) / 1e6
    assert costs.of(tokens, model="claude-sonnet-4-5-20250929") == pytest.approx(want)


def test_no_price_is_unknown_and_no_tokens_cost_nothing():
    costs = Costs({})
    assert costs.of(Tokens(input=1), model="claude-x") is None
    assert costs.of(Tokens(), model="claude-x") == 0.0
    assert add(1.0, None) is None and add(1.0, 2.0) == 3.0
