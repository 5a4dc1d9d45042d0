"""view/paths.py: only capture files under the captures folder are ever opened."""

from __future__ import annotations

import pytest

from view.paths import capture_file, rel_of


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "captures"
    (root / "2026-11-21").mkdir(parents=True)
    (root / "2026-11-21" / "001_120000_messages.json").write_text("{}")
    (root / "2026-11-21" / "002_120000_messages.json.gz").write_bytes(b"gz")
    (tmp_path / "secret.json").write_text("{}")
    return root


def test_a_capture_plain_or_compressed(root):
    assert (
        capture_file(root, "2026-11-21", "001_120000_messages.json").name
        == "001_120000_messages.json"
    )
    assert (
        capture_file(root, "2026-11-21", "002_120000_messages.json").name
        == "002_120000_messages.json.gz"
    )
    assert (
        rel_of("2026-11-21", "002_120000_messages.json.gz") == "2026-11-21/002_120000_messages.json"
    )


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("..", "secret.json"),
        ("2026-11-21", "../../secret.json"),
        ("2026-11-21", "..%2Fsecret.json"),
        ("2026-11-21", "003_120000_messages.json"),
        ("2026-11-21/..", "001_120000_messages.json"),
        ("/etc", "passwd"),
        ("2026-11-21", "notes.txt"),
        ("2026-11-21", "001_120000_messages.json\x00"),
    ],
)
def test_anything_else_is_refused(root, day, name):
    assert capture_file(root, day, name) is None


def test_a_symlink_out_of_the_folder_is_refused(root, tmp_path):
    (root / "2026-11-21" / "004_120000_messages.json").symlink_to(tmp_path / "secret.json")
    assert capture_file(root, "2026-11-21", "004_120000_messages.json") is None
