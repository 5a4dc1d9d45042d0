"""What a request costs, and which source priced its model.

Two sources, in this order:

1. `usage.prices` in config.yaml, an override per model. A model id matches
   its exact key first, then its first-party id (`analyze.usage.models`: a
   `claude-sonnet-4-5` key prices `us.anthropic.claude-sonnet-4-5-20250929-v1:0`
   and `claude-sonnet-4-5@20250929` too), each also with its date suffix
   dropped (`claude-sonnet-4-20250514`, `claude-sonnet-4@20250514` and
   `claude-sonnet-4-2025-05-14` all match `claude-sonnet-4`), and a dated key
   also matches its undated model id. Such a price holds on every provider.
2. genai-prices (`analyze.usage.database`), unless `usage.genai_prices` is
   false: the price of that model on that provider (Bedrock's and Vertex's
   differ from the Anthropic API's for some models), at the request's time and
   prompt size.

Glass never guesses a price: a model neither knows has none, and `Pricer`
records it so the report can name it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from analyze.usage import database
from analyze.usage.models import first_party
from glass.tokens import Price, Tokens

UNKNOWN_MODEL = "unknown"
"""How a capture or call that names no model is shown."""
CONFIG_SOURCE = "usage.prices"
DATABASE_SOURCE = "genai-prices"
"""The `source` of a `Source`: how `--json` names the two sources."""

_DATE_SUFFIX = re.compile(r"(?:[-@]\d{8}|[-@]\d{4}-\d{2}-\d{2})$")


def undated(model: str) -> str:
    """`model` without its date suffix (`-20250514`, `@20250514`, `-2025-05-14`)."""
    return _DATE_SUFFIX.sub("", model)


def find_entry(model: str, prices: Mapping[str, Price]) -> tuple[str, Price] | None:
    """The `prices` key and price of `model`: its exact id, then its first-party id, dated or not."""
    for name in dict.fromkeys((model, first_party(model))):
        if name in prices:
            return name, prices[name]
        base = undated(name)
        if base in prices:
            return base, prices[base]
        for key, price in prices.items():
            if undated(key) == base:
                return key, price
    return None


def find_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price `usage.prices` gives `model` (see `find_entry`), or None."""
    entry = find_entry(model, prices)
    return entry[1] if entry is not None else None


@dataclass(frozen=True, kw_only=True)
class Source:
    """Which source priced a model on a provider."""

    source: str
    """CONFIG_SOURCE or DATABASE_SOURCE."""
    matched: str
    """The entry that matched: a `usage.prices` key, or the database's model id."""


@dataclass(frozen=True, kw_only=True)
class Priced:
    """How one (model, provider) is priced: a fixed price, or the database's rates."""

    source: Source
    price: Price | None = None
    rates: database.Rates | None = None

    def at(self, *, when: datetime | None, tokens: Tokens) -> Price | None:
        """The price of a request made `when` with `tokens`; None when the database would
        charge its 1-hour cache writes at the 5-minute rate (it has no 1-hour rate for it)."""
        if self.price is not None:
            return self.price
        assert self.rates is not None  # one of the two is always set
        if tokens.cache_write_1h and not self.rates.has_1h_rate(at=when):
            return None
        return self.rates.price(at=when, prompt=tokens.prompt)


class Pricer:
    """Prices requests, caching the lookup per (model, provider); records sources and misses."""

    def __init__(self, prices: Mapping[str, Price], *, use_database: bool = True) -> None:
        self.prices = prices
        self.use_database = use_database
        self.cache: dict[tuple[str, str], Priced | None] = {}
        self.sources: dict[tuple[str, str], Source] = {}
        """(model, provider) -> the source that priced it, for the models that had a price."""
        self.missing: set[tuple[str, str]] = set()
        """(model, provider) with tokens and no price (UNKNOWN_MODEL for none named)."""
        self.without_1h_rate: set[tuple[str, str]] = set()
        """Those of `missing` the database prices, but without a 1-hour cache-write rate:
        their requests with 1-hour cache writes are unpriced, never charged at the 5-minute
        rate (ccusage #899)."""

    def lookup(self, model: str, provider: str) -> Priced | None:
        key = (model, provider)
        if key not in self.cache:
            self.cache[key] = self._find(model, provider)
        return self.cache[key]

    def _find(self, model: str, provider: str) -> Priced | None:
        entry = find_entry(model, self.prices)
        if entry is not None:
            key, price = entry
            return Priced(source=Source(source=CONFIG_SOURCE, matched=key), price=price)
        rates = database.lookup(model, provider) if self.use_database else None
        if rates is None:
            return None
        return Priced(source=Source(source=DATABASE_SOURCE, matched=rates.matched), rates=rates)

    def cost(
        self, tokens: Tokens, *, model: str | None, provider: str, at: datetime | None
    ) -> float | None:
        """Dollars for one request's `tokens`, or None (the model noted as missing)."""
        name = model or UNKNOWN_MODEL
        priced = self.lookup(name, provider) if model is not None else None
        price = priced.at(when=at, tokens=tokens) if priced is not None else None
        if priced is None or price is None:
            self.missing.add((name, provider))
            if priced is not None:
                self.without_1h_rate.add((name, provider))
            return None
        self.sources[(name, provider)] = priced.source
        return tokens.cost(price)
