"""What tokens cost, by the usage report's own prices and rule (`analyze.usage.prices`).

One place for it, so the session list and pages price exactly as `make usage`: each
request on its own, by its model and provider, at its time (`Pricer.cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from analyze.usage.prices import Pricer
from analyze.usage.scan import when
from glass.tokens import Price, Tokens

if TYPE_CHECKING:
    from view.index import CaptureRow


class Costs:
    """Prices one request's tokens; None when a model with tokens has no price."""

    def __init__(self, prices: Mapping[str, Price], *, use_database: bool = True) -> None:
        self.pricer = Pricer(prices, use_database=use_database)

    def of(
        self, tokens: Tokens, *, model: str | None, provider: str, captured_at: str | None
    ) -> float | None:
        if not tokens:
            return 0.0
        return self.pricer.cost(tokens, model=model, provider=provider, at=when(captured_at))

    def of_row(self, row: CaptureRow) -> float | None:
        return self.of(
            row.tokens, model=row.model, provider=row.provider, captured_at=row.captured_at
        )


def add(a: float | None, b: float | None) -> float | None:
    """A sum of costs that is unknown as soon as one part is."""
    return None if a is None or b is None else a + b
