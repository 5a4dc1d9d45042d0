"""JSON parsing shared by the stages: orjson's speed, the json module's verdict.

orjson parses several times faster than the json module but is stricter
(lone surrogates, NaN, infinities): `loads` lets the json module decide
whatever orjson refuses, so a text is accepted exactly when `json.loads`
accepts it. The one difference left is that orjson reads integers beyond
64 bits as floats; `loads_exact` hands such a value to the json module too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson


class TooDeep(ValueError):
    """JSON nested deeper than the json module reads (its RecursionError, as a ValueError)."""


def loads(data: bytes | str) -> Any:
    """The JSON value in `data`; `ValueError` where `json.loads` refuses it (`TooDeep` where it
    would raise RecursionError), so a caller catches one exception for every bad text."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _json_loads(data)


def loads_exact(data: bytes | str) -> Any:
    """`json.loads(data)` exactly, big integers included, through orjson where that is the same."""
    value = loads(data)
    return _json_loads(data) if _has_huge_float(value) else value


def _json_loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise TooDeep("JSON nested too deeply") from None


def _has_huge_float(value: Any) -> bool:
    """Whether a float of magnitude 2**63 or more is in `value` (maybe a big integer)."""
    return any(abs(item) >= 2.0**63 for item in floats(value))


def floats(value: Any) -> Iterator[float]:
    """Every float in a JSON value (dicts, lists and tuples walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float:
            yield item
