"""analyze/usage/database.py: genai-prices read offline, and priced by the library's own rules."""

from __future__ import annotations

import random
import socket
import threading
from datetime import UTC, datetime

import pytest
from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, Provider, Usage

from analyze.usage import database
from glass.tokens import Tokens

CLAUDE_ON = {"anthropic": "anthropic", "aws": "bedrock", "google": "vertex"}
"""genai-prices provider id -> Glass's provider, for the three that carry Claude."""


def library_cost(tokens: Tokens, model: ModelInfo, provider: Provider, at: datetime) -> float:
    """What genai-prices' own `calc_price` charges (its input_tokens include the cache's)."""
    usage = Usage(
        input_tokens=tokens.prompt,
        cache_write_tokens=tokens.cache_write,
        cache_write_1h_tokens=tokens.cache_write_1h,
        cache_read_tokens=tokens.cache_read,
        output_tokens=tokens.output,
    )
    return float(model.calc_price(usage, provider, genai_request_timestamp=at).total_price)


def claude_models() -> list[tuple[ModelInfo, Provider]]:
    """Every Claude model the database lists for the Anthropic API, Bedrock and Vertex."""
    return [
        (model, provider)
        for provider in data_snapshot.get_snapshot().providers
        if provider.id in CLAUDE_ON
        for model in provider.models
        if "claude" in model.id
    ]


def test_the_fast_path_charges_what_the_library_charges():
    rng = random.Random(10)
    models = claude_models()
    assert len(models) > 40
    checked = 0
    for model, provider in models:
        rates = database.Rates(model=model, provider_id=provider.id)
        for _ in range(12):
            tokens = Tokens(
                input=rng.choice([0, 3, 4_000, 150_000]),
                cache_write_5m=rng.choice([0, 1_000, 60_000]),
                cache_write_1h=rng.choice([0, 2_000, 90_000]),  # with 5m ones in one request
                cache_read=rng.choice([0, 20_000, 180_000]),  # some prompts cross 200k
                output=rng.choice([0, 50, 8_000]),
            )
            at = rng.choice([datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)])
            price = rates.price(at=at, prompt=tokens.prompt)
            assert price is not None, model.id
            assert tokens.cost(price) == pytest.approx(
                library_cost(tokens, model, provider, at), rel=1e-9, abs=1e-12
            ), (model.id, provider.id, tokens, at)
            checked += 1
    assert checked == 12 * len(models)


def test_one_hour_cache_writes_are_priced_at_the_one_hour_rate():
    rates = database.lookup("claude-opus-4-8", "anthropic")
    assert rates is not None
    price = rates.price(at=None, prompt=0)
    assert price is not None
    # anthropic.com/pricing, Opus 4.8: 5-minute writes $6.25, 1-hour writes $10 per MTok
    assert (price.cache_write_5m, price.cache_write_1h) == (6.25, 10.0)


def test_long_prompts_take_the_long_context_tier():
    rates = database.lookup("claude-sonnet-4-5-20250929", "anthropic")
    assert rates is not None
    short = rates.price(at=None, prompt=200_000)
    long = rates.price(at=None, prompt=200_001)
    assert short is not None and long is not None
    assert (short.input, long.input) == (3.0, 6.0)


def test_prices_in_force_at_the_request_time():
    rates = database.lookup("claude-opus-4-6", "anthropic")
    assert rates is not None
    # Opus 4.6's long-context surcharge ended on 2026-03-13 (a dated price in the data)
    before = rates.price(at=datetime(2026, 3, 1, tzinfo=UTC), prompt=300_000)
    after = rates.price(at=datetime(2026, 3, 20, tzinfo=UTC), prompt=300_000)
    assert before is not None and after is not None
    assert (before.input, after.input) == (10.0, 5.0)


def test_unknown_models_and_providers_have_no_rates():
    assert database.lookup("claude-nonesuch-9", "anthropic") is None
    assert database.lookup("claude-opus-4-8", "foundry") is None


@pytest.mark.parametrize(
    ("model", "provider", "looser"),
    [
        ("claude-opus-4-10", "anthropic", "claude-opus-4-1"),
        ("claude-opus-4-10-20270101", "anthropic", "claude-opus-4-1"),
        ("claude-sonnet-4-50", "anthropic", "claude-sonnet-4-5"),
        ("us.anthropic.claude-opus-4-80-v1:0", "bedrock", "claude-opus-4-8"),
        ("claude-sonnet-4-5-mini", "anthropic", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-evil", "anthropic", "claude-sonnet-4-5"),
        ("us.anthropic.claude-opus-4-8-fast-v1:0", "bedrock", "claude-opus-4-8"),
    ],
)
def test_a_newer_version_is_not_priced_as_the_entry_whose_number_it_extends(
    model, provider, looser
):
    snapshot = data_snapshot.get_snapshot()
    _, info = snapshot.find_provider_model(model, None, database.PROVIDER_IDS[provider], None)
    assert looser in info.id  # the library's own match is the looser entry ...
    assert database.lookup(model, provider) is None  # ... which Glass does not take


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-20250514", "anthropic"),
        ("claude-opus-4-1-20250805", "anthropic"),
        ("claude-3-5-haiku-20241022", "anthropic"),
        ("claude-3-7-sonnet-latest", "anthropic"),
        ("claude-sonnet-4-5@20250929", "vertex"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock"),
        ("global.anthropic.claude-opus-4-8-v1:0", "bedrock"),
    ],
)
def test_real_ids_are_priced_by_their_entry_whatever_the_prefix_cuts(model, provider):
    assert database.lookup(model, provider) is not None


def test_every_claude_model_of_the_database_is_still_found_by_its_own_id():
    found = 0
    for model, provider in claude_models():
        if not model.match.is_match(model.id):
            continue  # an id its own entry does not match (e.g. regional.…): not a lookup key
        rates = database.lookup(model.id, CLAUDE_ON[provider.id])
        assert rates is not None, (model.id, provider.id)
        found += 1
    assert found >= 30


def test_a_gateway_is_priced_by_the_form_of_the_id():
    assert database.database_provider("gateway", "claude-opus-4-8") == "anthropic"
    assert database.database_provider("gateway", "us.anthropic.claude-opus-4-8-v1:0") == "aws"
    assert database.database_provider("gateway", "claude-opus-4-8@20260101") == "google"
    assert database.database_provider("bedrock", "claude-opus-4-8") == "aws"
    assert database.database_provider("nonesuch", "claude-opus-4-8") is None


def test_an_inference_profile_arn_is_priced_as_its_model():
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    rates = database.lookup(arn + "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock")
    assert rates is not None and rates.matched.startswith("regional.anthropic.claude-sonnet-4-5")


def test_works_without_a_network_and_starts_no_price_updates(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("genai-prices tried to reach the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    rates = database.lookup("claude-haiku-5-5", "anthropic")
    assert rates is not None and rates.price(at=None, prompt=10) is not None
    assert database.lookup("us.anthropic.claude-opus-4-8-v1:0", "bedrock") is not None
    assert not any(t.name == "genai_prices:update" for t in threading.enumerate())
    assert not data_snapshot.get_snapshot().from_auto_update  # the bundled data
