"""Which `usage.prices` entry prices a model id.

A model id matches its exact key first, then with its date suffix dropped
(`claude-sonnet-4-20250514`, `claude-sonnet-4@20250514` and
`claude-sonnet-4-2025-05-14` all match `claude-sonnet-4`), and a dated key
also matches its undated model id. Glass never guesses a price: a model with
no match has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from glass.tokens import Price

UNKNOWN_MODEL = "unknown"
"""How a capture or call that names no model is shown."""

_DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|[-@]\d{4}-\d{2}-\d{2})$")


def find_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of `model`: its exact id first, then the id without a date suffix."""
    if model in prices:
        return prices[model]
    base = _DATE_SUFFIX.sub("", model)
    if base in prices:
        return prices[base]
    for key, price in prices.items():
        if _DATE_SUFFIX.sub("", key) == base:
            return price
    return None


class Pricer:
    """`find_price` with a cache, and a record of the models that had none."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = prices
        self.cache: dict[str, Price | None] = {}
        self.missing: set[str] = set()
        """Models with tokens and no price (UNKNOWN_MODEL for none named)."""

    def price(self, model: str | None) -> Price | None:
        if model is None:
            return None
        if model not in self.cache:
            self.cache[model] = find_price(model, self.prices)
        return self.cache[model]

    def price_or_note(self, model: str | None) -> Price | None:
        """The price of `model`, or None, noting the model as missing."""
        price = self.price(model)
        if price is None:
            self.missing.add(model or UNKNOWN_MODEL)
        return price
