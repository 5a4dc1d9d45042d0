"""analyze/usage/prices.py: which price a model id gets."""

from __future__ import annotations

from analyze.usage.prices import UNKNOWN_MODEL, Pricer, find_price
from glass.tokens import Price

SONNET = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)
HAIKU = Price(input=0.8, output=4.0, cache_write_5m=1.0, cache_write_1h=1.6, cache_read=0.08)


def test_find_price_matches_with_and_without_date_suffix():
    prices = {"claude-sonnet-4": SONNET, "claude-3-5-haiku-20241022": HAIKU}
    assert find_price("claude-sonnet-4", prices) is SONNET
    assert find_price("claude-sonnet-4-20250514", prices) is SONNET
    assert find_price("claude-sonnet-4@20250514", prices) is SONNET
    assert find_price("claude-sonnet-4-2025-05-14", prices) is SONNET
    assert find_price("claude-3-5-haiku", prices) is HAIKU  # dated key, undated model
    assert find_price("claude-sonnet-4-5", prices) is None  # not a date suffix
    assert find_price("claude-opus-4-8", prices) is None
    exact = Price(input=1, output=1, cache_write_5m=1, cache_write_1h=1, cache_read=1)
    assert find_price(
        "claude-sonnet-4-20250514", {**prices, "claude-sonnet-4-20250514": exact}
    ) is (exact)


def test_pricer_notes_the_models_without_a_price():
    pricer = Pricer({"claude-sonnet-4": SONNET})
    assert pricer.price_or_note("claude-sonnet-4-20250514") is SONNET
    assert pricer.price_or_note("claude-opus-4-8") is None
    assert pricer.price_or_note(None) is None
    assert pricer.missing == {"claude-opus-4-8", UNKNOWN_MODEL}
