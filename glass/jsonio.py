"""JSON parsing shared by the stages: orjson's speed, the json module's verdict.

orjson parses several times faster than the json module but is stricter
(lone surrogates, NaN, infinities): `loads` lets the json module decide
whatever orjson refuses, so a text is accepted exactly when `json.loads`
accepts it. The one difference left is that orjson reads integers beyond
64 bits as floats; `loads_exact` hands such a value to the json module too.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """The JSON value in `data`; `ValueError` (or `RecursionError`) as `json.loads` raises."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def loads_exact(data: bytes | str) -> Any:
    """`json.loads(data)` exactly, big integers included, through orjson where that is the same."""
    value = loads(data)
    return json.loads(data) if _has_huge_float(value) else value


def _has_huge_float(value: Any) -> bool:
    """Whether a float of magnitude 2**63 or more is in `value` (maybe a big integer)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float and abs(item) >= 2.0**63:
            return True
    return False
