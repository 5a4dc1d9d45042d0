"""glass/jsonio.py: orjson's speed with the json module's verdict."""

import json

import pytest

from glass import jsonio


@pytest.mark.parametrize(
    "text",
    [
        '{"model": "m", "messages": [{"role": "user", "content": "héllo \\u2028"}]}',
        '{"a": 1, "a": 2}',
        '{"big": 18446744073709551616, "bigger": -123456789012345678901234567890}',
        '{"in text": "12345678901234567890", "n": 1.5e300}',
        '{"x": NaN, "y": Infinity}',
        '"\\ud800 lone surrogate"',
        "[1e400]",
    ],
)
def test_loads_gives_exactly_what_json_loads_gives(text):
    fast, slow = jsonio.loads_exact(text), json.loads(text)
    assert repr(fast) == repr(slow) and type(fast) is type(slow)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "\ufeff{}"])
def test_loads_refuses_what_json_loads_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsonio.loads_exact(text)


def test_json_nested_too_deeply_is_a_value_error_of_its_own():
    deep = "[" * 100_000 + "]" * 100_000
    for parse in (jsonio.loads, jsonio.loads_exact):
        with pytest.raises(jsonio.TooDeep):
            parse(deep)
    assert issubclass(jsonio.TooDeep, ValueError)
