"""Prices out of the box: pydantic's genai-prices database, read offline.

genai-prices ships its price data inside the package (`genai_prices.data`)
and fetches newer data only when a program starts its `UpdatePrices`
background task. Glass never starts it, so `make usage` needs no network and
gives the same figures for the same captures with one installed version; a
newer genai-prices (`make lock ARGS=--upgrade`) brings newer prices.

`lookup(model, provider)` finds what the database knows of a model on a
provider (`anthropic`, `bedrock` -> its `aws`, `vertex` -> its `google`; a
`gateway` by the form of the id), once per pair. `Rates.price(at=, prompt=)`
is then the `glass.tokens.Price` of one request: the price in force at its
time (prices have start dates), at the tier its prompt size selects (long
context above 200k tokens costs more for some models). Both follow the
library's own rules, computed with its `calc_unit_price`; a kind of token
without a rate of its own is charged at its nearest priced parent's (a model
without a 1-hour cache-write rate charges those at its cache-write rate), as
the library's `calc_price` does. The per-request path avoids `calc_price`
itself, which costs ~150 µs a call; tests/analyze/usage/test_database.py
proves the two agree. Only tokens are priced: genai-prices also lists web
search and per-request prices, which the captures' token counts do not cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from analyze.usage.models import bedrock_id
from glass.tokens import Price

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, TieredPrices

# genai_prices itself is imported where it is used: importing it (pydantic, httpx2, its
# 1.6 MB of data) takes ~0.7 s, which `status` and every other analyzer command would pay.

NAME = f"genai-prices {version('genai-prices')}"
"""How reports name this source."""

PROVIDER_IDS = {"anthropic": "anthropic", "bedrock": "aws", "vertex": "google"}
"""Glass's provider -> genai-prices' provider id."""

_MTOK = 1_000_000
_DIGITS = re.compile(r"\d+")
_SUFFIX = re.compile(r"\d*(?:[-@]\d{8})?(?:-latest)?(?:-v\d+)?(?::\d+)?")
"""What may follow a database entry's prefix in an id: the rest of a date, a date, `-latest`,
Bedrock's `-v1:0`."""
_DATE_DIGITS = 8
"""A run of this many digits in a model id is a date (20250514), not a version number."""
_FIELDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_write_5m": "cache_write_5m_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "cache_read": "cache_read_tokens",
}
"""`Price` field -> the genai-prices unit that counts those tokens."""


def database_provider(provider: str, model: str) -> str | None:
    """The genai-prices provider id for `model` on Glass's `provider`; None for one it lacks.

    A gateway forwards to some provider: a Bedrock-form id (`…anthropic.claude-…`)
    is priced as Bedrock, a Vertex-form one (`…@20250929`) as Vertex, any other
    as the Anthropic API.
    """
    if provider != "gateway":
        return PROVIDER_IDS.get(provider)
    if "anthropic." in bedrock_id(model):
        return PROVIDER_IDS["bedrock"]
    if "@" in model:
        return PROVIDER_IDS["vertex"]
    return PROVIDER_IDS["anthropic"]


def _dimensions(usage_key: str) -> dict[str, str]:
    from genai_prices.data_units import unit_data

    return dict(unit_data[usage_key]["dimensions"])


def _resolve(model_price: ModelPrice) -> dict[str, Decimal | TieredPrices] | None:
    """Each `Price` field's rate: the most specific priced unit that covers its tokens.

    None when a field has no rate at all (no input or output price): no price.
    """
    from genai_prices.data_units import unit_data

    priced = [
        (unit, value)
        for unit, raw in unit_data.items()
        if (value := getattr(model_price, raw["price_key"], None)) is not None
    ]
    rates = {}
    for name, usage_key in _FIELDS.items():
        wanted = _dimensions(usage_key).items()
        covering = [(unit, v) for unit, v in priced if _dimensions(unit).items() <= wanted]
        if not covering:
            return None
        _, rates[name] = max(covering, key=lambda item: len(_dimensions(item[0])))
    return rates


@dataclass(frozen=True, kw_only=True)
class Rates:
    """What genai-prices knows of one model on one provider."""

    model: ModelInfo
    provider_id: str
    _resolved: dict[int, tuple[ModelPrice, Any]] = field(default_factory=dict, repr=False)
    """id(ModelPrice) -> (it, its rates or a flat Price or None), kept alive so ids stay unique."""

    @property
    def matched(self) -> str:
        """The database's entry, e.g. `regional.anthropic.claude-sonnet-4-5-20250929-v1:0`."""
        return self.model.id

    def has_1h_rate(self, *, at: datetime | None) -> bool:
        """Whether the database has a 1-hour cache-write rate of its own for a request `at`
        (without one, `price` charges them at the 5-minute rate, as the library does)."""
        model_price = self.model.get_prices(at or datetime.now().astimezone())
        return model_price.cache_write_1h_mtok is not None

    def price(self, *, at: datetime | None, prompt: int) -> Price | None:
        """The price of a request made `at` (None: now) with `prompt` input tokens in all."""
        model_price = self.model.get_prices(at or datetime.now().astimezone())
        cached = self._resolved.get(id(model_price))
        if cached is None:
            from genai_prices.types import TieredPrices

            rates = _resolve(model_price)
            tiered = rates is not None and any(isinstance(v, TieredPrices) for v in rates.values())
            cached = self._resolved[id(model_price)] = (
                model_price,
                rates if tiered or rates is None else _flat(rates, prompt=0),
            )
        resolved = cached[1]
        if resolved is None or isinstance(resolved, Price):
            return resolved
        return _flat(resolved, prompt=prompt)


def _flat(rates: dict[str, Decimal | TieredPrices], *, prompt: int) -> Price:
    """Dollars per million tokens of each field at a prompt of `prompt` tokens."""
    from genai_prices.types import calc_unit_price

    per_mtok = {
        name: float(calc_unit_price(value, _MTOK, prompt, _MTOK)) for name, value in rates.items()
    }
    return Price(**per_mtok)


def lookup(model: str, provider: str) -> Rates | None:
    """The database's rates for `model` on `provider`, or None when it does not know them."""
    provider_id = database_provider(provider, model)
    if provider_id is None:
        return None
    from genai_prices import data_snapshot

    ref = bedrock_id(model)
    try:
        found, info = data_snapshot.get_snapshot().find_provider_model(ref, None, provider_id, None)
    except LookupError:
        return None
    if not _names(info.match, ref.lower()):
        return None  # a looser entry, e.g. claude-opus-4-1 for claude-opus-4-10
    return Rates(model=info, provider_id=found.id)


def _names(clause: Any, ref: str) -> bool:
    """Whether `clause` matches `ref` as a name, not by cutting a number of the id in two.

    genai-prices matches ids by prefix and substring, so its `claude-opus-4-1` entry (starts
    with `claude-opus-4-1`) would also price a future `claude-opus-4-10`. A prefix or substring
    that ends in a digit counts only where the id does not go on with another digit, or where
    the digits are a date's.
    """
    from genai_prices import types

    if isinstance(clause, types.ClauseOr):
        return any(_names(c, ref) for c in clause.or_)
    if isinstance(clause, types.ClauseAnd):
        return all(_names(c, ref) for c in clause.and_)
    if isinstance(clause, types.ClauseStartsWith):
        return ref.startswith(part := clause.starts_with.lower()) and _whole(ref, 0, part)
    if isinstance(clause, types.ClauseContains):
        part = clause.contains.lower()
        return any(_whole(ref, i, part) for i in _find_all(ref, part))
    return bool(clause.is_match(ref))  # equals, ends_with, regex: nothing cut off


def _whole(ref: str, start: int, part: str) -> bool:
    """False when `part`, at `start` in `ref`, is followed by more than a date, `-latest` or a
    version suffix (`claude-sonnet-4-5-mini` is not `claude-sonnet-4-5`), or ends inside a
    version number of it: inside a run of digits shorter than a date (`claude-sonnet-4-2025`
    may match `claude-sonnet-4-20250514`, `claude-opus-4-1` not `claude-opus-4-10`)."""
    end = start + len(part)
    if not _SUFFIX.fullmatch(ref, end):
        return False
    if not (part[-1:].isdigit() and ref[end : end + 1].isdigit()):
        return True
    run = _DIGITS.match(ref[::-1], len(ref) - end)
    after = _DIGITS.match(ref, end)
    digits = (run.end() - run.start() if run else 0) + (after.end() - after.start() if after else 0)
    return digits >= _DATE_DIGITS


def _find_all(text: str, part: str) -> list[int]:
    found, at = [], text.find(part)
    while at >= 0:
        found.append(at)
        at = text.find(part, at + 1)
    return found
