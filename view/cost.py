"""What tokens cost, by the usage report's own prices and rule (`analyze.usage.prices`).

One place for it, so the session list and pages price exactly as `make usage`.
"""

from __future__ import annotations

from collections.abc import Mapping

from analyze.usage.prices import Pricer
from glass.tokens import Price, Tokens


class Costs:
    """Prices tokens per model; None when a model with tokens has no price."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.pricer = Pricer(prices)

    def of(self, tokens: Tokens, *, model: str | None) -> float | None:
        if not tokens:
            return 0.0
        price = self.pricer.price(model)
        return None if price is None else tokens.cost(price)


def add(a: float | None, b: float | None) -> float | None:
    """A sum of costs that is unknown as soon as one part is."""
    return None if a is None or b is None else a + b
