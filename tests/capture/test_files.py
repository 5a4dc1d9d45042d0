"""capture/files.py: naming, numbering, atomic writes and permissions."""

import json
import shutil
import stat
import threading
from datetime import datetime
from pathlib import Path

import pytest

from capture import files

WHEN = datetime(2026, 11, 21, 14, 22, 33)
CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


@pytest.mark.parametrize(
    "path,endpoint",
    [
        ("/v1/messages", "messages"),
        ("/v1/messages?beta=true", "messages"),
        ("/v1/messages/count_tokens?beta=true", "count_tokens"),
        ("/v1/messages/", "messages"),
        ("/", "request"),
        ("/v1/we ird/../x*y", "x_y"),
    ],
)
def test_endpoint_of(path, endpoint):
    assert files.endpoint_of(path) == endpoint


def test_names_numbers_and_modes(tmp_path):
    folder = files.CaptureFolder(tmp_path / "captures")
    first = folder.create(WHEN, "messages", b"{}")
    second = folder.create(WHEN, "count_tokens", b"{}")
    assert (
        first.relative_to(tmp_path / "captures").as_posix() == "2026-11-21/001_142233_messages.json"
    )
    assert second.name == "002_142233_count_tokens.json"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "captures").stat().st_mode) == 0o700
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name, second.name]


def test_numbering_continues_after_restart_and_grows_past_999(tmp_path):
    day = tmp_path / "2026-11-21"
    day.mkdir()
    (day / "998_010101_messages.json").write_text("{}")
    (day / ".glass-1-1.tmp").write_text("")  # leftovers of a crash are not captures
    (day / "notes.txt").write_text("")
    folder = files.CaptureFolder(tmp_path)
    names = [folder.create(WHEN, "messages", b"{}").name for _ in range(3)]
    assert names == [
        "999_142233_messages.json",
        "1000_142233_messages.json",
        "1001_142233_messages.json",
    ]


def test_day_folder_is_recreated_when_deleted(tmp_path):
    folder = files.CaptureFolder(tmp_path)
    p = folder.create(WHEN, "messages", b"{}")
    shutil.rmtree(p.parent)
    again = folder.create(WHEN, "messages", b"{}")
    assert again.exists() and again.parent == p.parent


def test_concurrent_writers_in_two_folders_objects_never_share_a_number(tmp_path):
    # Two CaptureFolder objects stand for two proxy processes on one folder.
    folders = [files.CaptureFolder(tmp_path), files.CaptureFolder(tmp_path)]
    made: list = []
    lock = threading.Lock()

    def work(folder):
        for _ in range(25):
            p = folder.create(WHEN, "messages", b"{}")
            with lock:
                made.append(p.name)

    threads = [threading.Thread(target=work, args=(folders[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 200 == len(set(made))
    numbers = sorted(int(n.split("_")[0]) for n in made)
    assert numbers == list(range(1, 201))


def test_replace_is_atomic_and_leaves_no_temp_files(tmp_path):
    folder = files.CaptureFolder(tmp_path)
    p = folder.create(WHEN, "messages", b'{"a": 1}')
    folder.replace(p, b'{"a": 2}')
    assert json.loads(p.read_text()) == {"a": 2}
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert sorted(x.name for x in p.parent.iterdir()) == [p.name]


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import errno

    folder = files.CaptureFolder(tmp_path)
    p = folder.create(WHEN, "messages", b"{}")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    with pytest.raises(OSError):
        folder.replace(p, b'{"new": 1}')
    with pytest.raises(OSError):
        folder.create(WHEN, "messages", b"{}")
    assert p.read_bytes() == b"{}"
    assert sorted(x.name for x in p.parent.iterdir()) == [p.name]


def test_dumps_is_pretty_utf8_without_escapes():
    data = files.dumps({"text": "Grüße 👋", "lone": "\ud83d"})
    text = data.decode("utf-8")
    assert "Grüße 👋" in text and '\n  "text"' in text
    assert json.loads(text)["lone"] == "\ud83d"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"response": {"status": 200, "body": {"a": [1, {"b": "ü"}]}}},
        {"response": {}, "error": {"message": "x"}},
    ],
)
def test_dumps_more_equals_dumping_the_merged_record(extra):
    head = {"captured_at": "t", "request": {"messages": [{"role": "user", "content": "Grüße"}]}}
    assert files.dumps_more(files.dumps(head), extra) == files.dumps({**head, **extra})


def test_temp_files_of_dead_writers_are_swept(tmp_path):
    import os
    import subprocess

    day = tmp_path / "2026-11-21"
    day.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (day / f".glass-{dead.pid}-7.tmp").write_text("half a capture")
    (day / f".glass-{os.getpid()}-7.tmp").write_text("mine, in progress")
    files.CaptureFolder(tmp_path).create(WHEN, "messages", b"{}")
    assert sorted(p.name for p in day.iterdir()) == [
        f".glass-{os.getpid()}-7.tmp",
        "001_142233_messages.json",
    ]


def test_without_hard_links_names_are_still_claimed_safely(tmp_path, monkeypatch):
    import errno

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_links)
    folder = files.CaptureFolder(tmp_path)
    (tmp_path / "2026-11-21").mkdir()
    (tmp_path / "2026-11-21" / ".002_142233_messages.json.claim").write_text(
        ""
    )  # another writer's claim
    names = [folder.create(WHEN, "messages", b'{"n": 1}').name for _ in range(2)]
    assert names == ["001_142233_messages.json", "003_142233_messages.json"]
    assert not [
        p
        for p in (tmp_path / "2026-11-21").iterdir()
        if p.name.startswith(".") and not p.name.startswith(".002")
    ]


def test_numbering_continues_after_compressed_captures(tmp_path):
    day = tmp_path / "2026-11-21"
    day.mkdir()
    (day / "001_010101_messages.json").write_text("{}")
    (day / "007_010101_messages.json.gz").write_bytes(b"")
    folder = files.CaptureFolder(tmp_path)
    assert folder.create(WHEN, "messages", b"{}").name == "008_142233_messages.json"
    assert folder.reserve(WHEN) == 9


def _json_spelling(record):
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", errors="backslashreplace")


@pytest.mark.parametrize(
    "record",
    [
        {"k": "".join(chr(i) for i in range(0x3000)) + "\U0001f44b\ufeff", "e": {}, "l": [[], {}]},
        {"floats": [0.0, -0.0, 1.5, 1e16, 1e22, 1e-4, 123456789012345.6, 5e-324]},
        {"tiny": 1.4752192081260362e-05, "neg": -3e-9},
        {"nan": float("nan"), "inf": [float("inf"), float("-inf")]},
        {"ints": [2**64 - 1, -(2**63), 2**64, -(2**70)], "t": True, "n": None},
        {"lone": "\ud800 surrogate"},
        {"nested": [{"deep": [{"deeper": 1e-7}]}]},
    ]
    + [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.json"))[:20]],
)
def test_dumps_writes_exactly_the_json_modules_bytes(record):
    assert files.dumps(record) == _json_spelling(record)
