"""glass/contract.py: the capture name pattern, plain and compressed, and a capture's identity."""

import pytest

from glass.contract import CAPTURE_NAME, capture_identity, without_cache_control


@pytest.mark.parametrize(
    ("name", "groups"),
    [
        ("001_142233_messages.json", ("001", "142233", "messages", None)),
        ("1000_142233_count_tokens.json.gz", ("1000", "142233", "count_tokens", ".gz")),
    ],
)
def test_capture_names_plain_and_compressed(name, groups):
    m = CAPTURE_NAME.match(name)
    assert m is not None and m.groups() == groups


@pytest.mark.parametrize(
    "name",
    ["001_142233_messages.gz", "001_142233_messages.json.tmp", ".001_1_x.json", "01_1_x.json"],
)
def test_not_capture_names(name):
    assert CAPTURE_NAME.match(name) is None


def test_identity_is_the_name_without_gz():
    assert capture_identity("2026-11-21/001_142233_messages.json.gz") == (
        "2026-11-21/001_142233_messages.json"
    )
    assert capture_identity("001_142233_messages.json") == "001_142233_messages.json"


def test_without_cache_control_drops_the_markers_at_every_depth_and_nothing_else():
    marked = {
        "role": "user",
        "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {
                "type": "tool_result",
                "content": [{"type": "text", "text": "x", "cache_control": {}}],
            },
        ],
    }
    assert without_cache_control(marked) == {
        "role": "user",
        "content": [
            {"type": "text", "text": "hi"},
            {"type": "tool_result", "content": [{"type": "text", "text": "x"}]},
        ],
    }
    assert marked["content"][0]["cache_control"]  # the input is left as it was
    assert without_cache_control("cache_control") == "cache_control"
