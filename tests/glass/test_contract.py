"""glass/contract.py: the capture name pattern, plain and compressed, and a capture's identity."""

import pytest

from glass.contract import CAPTURE_NAME, capture_identity


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
