"""glass/tokens.py: token counts from the API's usage, sums and cost."""

from __future__ import annotations

import pytest

from glass.tokens import Price, Tokens

PRICE = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)


def test_from_usage_splits_cache_writes_by_lifetime():
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        "cache_read_input_tokens": 4000,
        "output_tokens": 56,
    }
    tokens = Tokens.from_usage(usage)
    assert tokens == Tokens(
        input=10, cache_write_5m=100, cache_write_1h=200, cache_read=4000, output=56
    )
    assert tokens.cache_write == 300 and tokens.prompt == 4310 and tokens.total == 4366
    assert tokens.to_usage() == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 4000,
        "output_tokens": 56,
    }


def test_a_plain_cache_write_count_is_5_minute():
    assert Tokens.from_usage({"cache_creation_input_tokens": 70}) == Tokens(cache_write_5m=70)
    # a split larger than the plain count wins (the plain count may lag behind)
    split = {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 90}
    assert Tokens.from_usage({"cache_creation_input_tokens": 70, "cache_creation": split}) == (
        Tokens(cache_write_5m=5, cache_write_1h=90)
    )


@pytest.mark.parametrize(
    "usage",
    [
        None,
        [],
        "x",
        {"input_tokens": None},
        {"input_tokens": -3},
        {"input_tokens": True},
        {"input_tokens": 1.5},
        {"cache_creation": []},
    ],
)
def test_odd_counts_are_no_tokens(usage):
    assert Tokens.from_usage(usage) == Tokens()
    assert not Tokens.from_usage(usage)


def test_addition_and_cost():
    a = Tokens(input=1_000_000)
    b = Tokens(
        cache_write_5m=1_000_000, cache_write_1h=1_000_000, cache_read=1_000_000, output=1_000_000
    )
    assert (a + b).cost(PRICE) == pytest.approx(3.0 + 3.75 + 6.0 + 0.3 + 15.0)
    assert a + b == b + a and bool(a) and not Tokens()
    with pytest.raises(TypeError):
        a + 1
