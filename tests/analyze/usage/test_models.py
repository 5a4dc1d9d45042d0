"""analyze/usage/models.py: a capture's provider and model, and the model's first-party id."""

from __future__ import annotations

import pytest

from analyze.usage.models import first_party, provider_of


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("apac.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4-20250514"),
        ("global.anthropic.claude-opus-4-8-v1:0", "claude-opus-4-8"),
        ("us-gov.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"),
        ("anthropic.claude-haiku-5-5", "claude-haiku-5-5"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5-20250929",
        ),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-20241022"),
        ("claude-haiku-5-5@latest", "claude-haiku-5-5"),
        ("claude-opus-4-8", "claude-opus-4-8"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("gpt-5", "gpt-5"),
    ],
)
def test_first_party(model, expected):
    assert first_party(model) == expected


def test_provider_of_defaults_to_anthropic_for_old_files():
    assert provider_of({}) == "anthropic"
    assert provider_of({"provider": "bedrock"}) == "bedrock"
    assert provider_of({"provider": None}) == "anthropic"
