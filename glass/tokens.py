"""Token counts and prices: one type for every place that adds up or prices tokens.

`Tokens` is what one Messages API call bills, as its `usage` object reports
it (`Tokens.from_usage`); counts add up with `+`, and `cost(price)` prices
them. The usage report, the analyzer's ledger, its run summary and both
backends use it; `Price` is what `usage.prices` in config.yaml holds, and
what `analyze.usage.database` makes of genai-prices' rates for one request.

Cache writes are kept apart by their lifetime, because they are priced
apart: `cache_creation.ephemeral_1h_input_tokens` at the 1-hour rate, the
rest of `cache_creation_input_tokens` (a plain count without the split
included) at the 5-minute rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Price:
    """Dollars per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


def _count(value: Any) -> int:
    """A token count from the API's JSON: a positive int, else 0 (bools are not counts)."""
    return value if type(value) is int and value > 0 else 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Tokens:
    """Tokens of one call, or a sum of calls."""

    input: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0

    @classmethod
    def from_usage(cls, usage: Any) -> Tokens:
        """The tokens of a Messages API `usage` object (a dict); anything else is no tokens.

        Counts that are missing, negative or not integers count as 0.
        """
        if not isinstance(usage, Mapping):
            return ZERO
        split = usage.get("cache_creation")
        write = _count(usage.get("cache_creation_input_tokens"))
        write_1h = 0
        if isinstance(split, Mapping):
            write_1h = _count(split.get("ephemeral_1h_input_tokens"))
            write = max(write, _count(split.get("ephemeral_5m_input_tokens")) + write_1h)
        return cls(
            input=_count(usage.get("input_tokens")),
            cache_write_5m=write - write_1h,
            cache_write_1h=write_1h,
            cache_read=_count(usage.get("cache_read_input_tokens")),
            output=_count(usage.get("output_tokens")),
        )

    @property
    def cache_write(self) -> int:
        """`cache_creation_input_tokens`: both lifetimes."""
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt(self) -> int:
        """Every input token: plain, cache writes and cache reads."""
        return self.input + self.cache_write + self.cache_read

    @property
    def total(self) -> int:
        return self.prompt + self.output

    def __bool__(self) -> bool:
        return self.total > 0

    def __add__(self, other: Tokens) -> Tokens:
        if not isinstance(other, Tokens):
            return NotImplemented
        return Tokens(
            input=self.input + other.input,
            cache_write_5m=self.cache_write_5m + other.cache_write_5m,
            cache_write_1h=self.cache_write_1h + other.cache_write_1h,
            cache_read=self.cache_read + other.cache_read,
            output=self.output + other.output,
        )

    def cost(self, price: Price) -> float:
        """Dollars for these tokens at `price`."""
        return (
            self.input * price.input
            + self.cache_write_5m * price.cache_write_5m
            + self.cache_write_1h * price.cache_write_1h
            + self.cache_read * price.cache_read
            + self.output * price.output
        ) / 1e6

    def to_usage(self) -> dict[str, int]:
        """The four counts under the Messages API's names (the usage report's JSON keys)."""
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        }


ZERO = Tokens()
