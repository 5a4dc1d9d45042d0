"""analyze/usage/prices.py: which source prices a model, and at what price."""

from __future__ import annotations

import pytest

from analyze.usage.prices import (
    CONFIG_SOURCE,
    DATABASE_SOURCE,
    UNKNOWN_MODEL,
    Pricer,
    find_entry,
    find_price,
)
from glass.tokens import Price, Tokens

SONNET = Price(input=3.0, output=15.0, cache_write_5m=3.75, cache_write_1h=6.0, cache_read=0.3)
HAIKU = Price(input=0.8, output=4.0, cache_write_5m=1.0, cache_write_1h=1.6, cache_read=0.08)
MADE_UP = Price(input=1.0, output=2.0, cache_write_5m=3.0, cache_write_1h=4.0, cache_read=5.0)
MTOK_IN = Tokens(input=1_000_000)


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


def test_find_price_knows_bedrock_and_vertex_ids_by_their_first_party_twin():
    prices = {"claude-sonnet-4-5": SONNET}
    assert find_entry("us.anthropic.claude-sonnet-4-5-20250929-v1:0", prices) == (
        "claude-sonnet-4-5",
        SONNET,
    )
    assert find_price("global.anthropic.claude-sonnet-4-5-20250929-v1:0", prices) is SONNET
    assert find_price("claude-sonnet-4-5@20250929", prices) is SONNET
    # an exact key for the Bedrock id wins over its twin's
    bedrock = {**prices, "us.anthropic.claude-sonnet-4-5-20250929-v1:0": HAIKU}
    assert find_price("us.anthropic.claude-sonnet-4-5-20250929-v1:0", bedrock) is HAIKU


def test_the_database_prices_current_models_out_of_the_box():
    pricer = Pricer({})
    # list prices (anthropic.com/pricing): Opus 4.8 $5 / $25, Haiku 5.5 $0.10 / $0.50
    assert pricer.cost(MTOK_IN, model="claude-opus-4-8", provider="anthropic", at=None) == (
        pytest.approx(5.0)
    )
    out = Tokens(output=1_000)
    assert pricer.cost(out, model="claude-haiku-5-5", provider="anthropic", at=None) == (
        pytest.approx(0.0005)
    )
    source = pricer.sources[("claude-opus-4-8", "anthropic")]
    assert source.source == DATABASE_SOURCE and source.matched == "claude-opus-4-8"
    assert not pricer.missing


def test_a_provider_is_priced_at_its_own_price_where_it_differs():
    pricer = Pricer({})
    sonnet = "claude-sonnet-4-5-20250929"

    def per_mtok(model: str, provider: str) -> float | None:
        cost = pricer.cost(Tokens(input=100_000), model=model, provider=provider, at=None)
        return None if cost is None else cost * 10  # 100k tokens: below the long-context tier

    assert per_mtok(sonnet, "anthropic") == pytest.approx(3.0)
    # Bedrock's regional (us., eu., apac.) endpoints cost 10% more than its global one
    assert per_mtok(f"us.anthropic.{sonnet}-v1:0", "bedrock") == pytest.approx(3.3)
    assert per_mtok(f"eu.anthropic.{sonnet}-v1:0", "bedrock") == pytest.approx(3.3)
    assert per_mtok(f"global.anthropic.{sonnet}-v1:0", "bedrock") == pytest.approx(3.0)
    assert per_mtok("claude-sonnet-4-5@20250929", "vertex") == pytest.approx(3.0)
    assert pricer.sources[(f"us.anthropic.{sonnet}-v1:0", "bedrock")].matched == (
        f"regional.anthropic.{sonnet}-v1:0"
    )
    vertex = pricer.lookup("claude-sonnet-4-5@20250929", "vertex")
    assert vertex is not None and vertex.rates is not None
    assert vertex.rates.provider_id == "google"  # genai-prices' name of Vertex's prices


def test_the_config_overrides_the_database_on_every_provider():
    pricer = Pricer({"claude-opus-4-8": MADE_UP})
    for model, provider in [
        ("claude-opus-4-8", "anthropic"),
        ("global.anthropic.claude-opus-4-8-v1:0", "bedrock"),
        ("claude-opus-4-8@20260101", "vertex"),
    ]:
        assert pricer.cost(MTOK_IN, model=model, provider=provider, at=None) == 1.0
        assert pricer.sources[(model, provider)].source == CONFIG_SOURCE
        assert pricer.sources[(model, provider)].matched == "claude-opus-4-8"


def test_a_model_neither_source_knows_has_no_price_and_is_noted():
    pricer = Pricer({"claude-sonnet-4": SONNET})
    assert pricer.cost(MTOK_IN, model="claude-nonesuch-9", provider="anthropic", at=None) is None
    assert pricer.cost(MTOK_IN, model=None, provider="anthropic", at=None) is None
    # a provider Glass has no prices for: no price, rather than another provider's
    assert pricer.cost(MTOK_IN, model="claude-opus-4-8", provider="foundry", at=None) is None
    assert pricer.missing == {
        ("claude-nonesuch-9", "anthropic"),
        (UNKNOWN_MODEL, "anthropic"),
        ("claude-opus-4-8", "foundry"),
    }
    assert pricer.sources == {}


def test_without_the_database_only_the_config_prices():
    pricer = Pricer({"claude-sonnet-4": SONNET}, use_database=False)
    assert pricer.cost(MTOK_IN, model="claude-opus-4-8", provider="anthropic", at=None) is None
    assert pricer.cost(MTOK_IN, model="claude-sonnet-4-0", provider="anthropic", at=None) is None
    assert pricer.cost(
        MTOK_IN, model="claude-sonnet-4-20250514", provider="anthropic", at=None
    ) == pytest.approx(3.0)
    assert pricer.missing == {("claude-opus-4-8", "anthropic"), ("claude-sonnet-4-0", "anthropic")}
