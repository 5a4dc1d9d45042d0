"""analyze/recall/commands.py: search, forget, restore and export, as real processes.

forget and restore go through the store's exactly-once commit: each is
killed with SIGKILL at every step of it (`GLASS_CRASH_AT`, as in
tests/analyze/test_crash.py) and then run again, and the store must end up
with every memory intact and exactly one record per change.
"""

from __future__ import annotations

import json
import signal

import pytest

from analyze import store
from tests.analyze.recall.fixtures import memory
from tests.analyzer_harness import analyze, clean_env, ledger_pending, read_store, write_config

PROJECT = "/work/shop"
MEMORIES = [
    ("Database migrations run with alembic upgrade head.", "convention", PROJECT),
    ("The user prefers small commits with imperative messages.", "preference", None),
    ("Deploys go through make deploy on the main branch.", "decision", PROJECT),
    ("Die Grüße-Seite lädt langsam wegen eines N+1-Problems.", "fact", "/work/other"),
]


@pytest.fixture
def setup(tmp_path):
    config = write_config(tmp_path, base_url=None)
    path = tmp_path / "captures" / "memories.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        store.encode(
            memory(*m, created_at=f"2026-11-2{i}T10:00:00+01:00") for i, m in enumerate(MEMORIES, 1)
        )
    )
    return config, path


def ids():
    return [store.memory_id(m[0]) for m in MEMORIES]


def test_search_prints_id_kind_project_date_text_and_match(setup):
    config, _ = setup
    done = analyze(config, "search", "migration")
    assert done.returncode == 0, done.stderr
    head, text, match = done.stdout.splitlines()
    assert head.split()[:4] == ["2026-11-21", "convention", ids()[0], PROJECT]
    assert text.strip() == MEMORIES[0][0]
    assert match.strip() == "match: Database [migrations] run with alembic upgrade head."


def test_search_json_filters_and_limits(setup):
    config, _ = setup
    done = analyze(config, "search", "deploy", "commits", "alembic", "--json")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["id"] for r in rows} == {ids()[0], ids()[1], ids()[2]}
    assert all(r["score"] > 0 and "[" in r["match"] for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    only = analyze(config, "search", "deploy commits alembic", "--json", "--kind", "decision")
    assert [json.loads(line)["id"] for line in only.stdout.splitlines()] == [ids()[2]]
    inside = analyze(
        config, "search", "deploy commits alembic", "--json", "--project", PROJECT + "/src/app"
    )
    assert {json.loads(line)["id"] for line in inside.stdout.splitlines()} == {ids()[0], ids()[2]}
    one = analyze(config, "search", "deploy commits alembic", "--json", "--limit", "1")
    assert len(one.stdout.splitlines()) == 1


@pytest.mark.parametrize("query", ['"oops', "-x", "a:b", "*", "(", "'; DROP TABLE memories; --"])
def test_odd_queries_are_words_not_errors(setup, query):
    config, _ = setup
    done = analyze(config, "search", "--", query)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_no_match_says_so_on_stderr(setup):
    config, _ = setup
    done = analyze(config, "search", "kubernetes")
    assert (done.returncode, done.stdout, done.stderr.strip()) == (0, "", "no memory matches")


def test_forget_and_restore_are_honoured_everywhere(setup):
    config, path = setup
    target = ids()[0]
    done = analyze(config, "forget", target)
    assert done.returncode == 0 and done.stdout.startswith(f"forgot {target}: "), done
    again = analyze(config, "forget", target)  # a no-op, said on stderr
    assert again.returncode == 0 and "already forgotten" in again.stderr
    records = read_store(path)
    assert [r for r in records if "op" in r] == [
        {"op": "forget", "id": target, "at": records[-1]["at"]}
    ]
    assert analyze(config, "search", "migrations").stdout == ""
    listed = analyze(config, "list").stdout
    assert MEMORIES[0][0] not in listed and MEMORIES[2][0] in listed
    everything = analyze(config, "list", "--all").stdout
    assert f"{MEMORIES[0][0]} (forgotten)" in everything
    as_json = [
        json.loads(line) for line in analyze(config, "list", "--all", "--json").stdout.splitlines()
    ]
    assert [r["id"] for r in as_json if r.get("forgotten")] == [target]
    assert json.loads(analyze(config, "status", "--json").stdout)["memories"] == len(MEMORIES) - 1

    restored = analyze(config, "restore", target)
    assert restored.returncode == 0 and restored.stdout.startswith(f"restored {target}: ")
    assert ids()[0] in analyze(config, "search", "migrations").stdout
    assert "(forgotten)" not in analyze(config, "list", "--all").stdout


def test_an_unknown_id_is_a_clear_error_and_writes_nothing(setup):
    config, path = setup
    before = path.read_bytes()
    done = analyze(config, "forget", ids()[1], "m_0000000000000000")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no memory with id m_0000000000000000 in {path}"
    ]
    assert path.read_bytes() == before


@pytest.mark.parametrize("point", ["after_begin_commit", "torn_append", "after_append"])
@pytest.mark.parametrize("op", ["forget", "restore"])
def test_a_kill_at_each_step_loses_and_duplicates_nothing(setup, op, point):
    config, path = setup
    target, other = ids()[0], ids()[2]
    if op == "restore":
        assert analyze(config, "forget", target).returncode == 0
    before = path.read_bytes()
    state = path.parent / ".analyze"

    crashed = analyze(config, op, target, env=clean_env(GLASS_CRASH_AT=point))
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
    pending = ledger_pending(state)
    assert pending is not None and pending.offset == len(before)
    tail = path.read_bytes()[len(before) :]
    assert path.read_bytes()[: len(before)] == before
    assert (
        tail
        == {
            "after_begin_commit": b"",
            "torn_append": pending.data[: len(pending.data) // 2],
            "after_append": pending.data,
        }[point]
    )

    # The next curation of any memory completes the interrupted one first.
    assert analyze(config, "forget", other).returncode == 0
    retried = analyze(config, op, target)
    assert retried.returncode == 0 and "already" in retried.stderr, retried

    records = read_store(path)  # every line whole
    assert ledger_pending(state) is None
    assert path.read_bytes()[: len(before)] == before  # nothing lost
    ops = [(r["op"], r["id"]) for r in records if "op" in r]
    expected = [("forget", target)] * (op == "restore") + [(op, target), ("forget", other)]
    assert ops == expected  # each change written exactly once
    current = {m.id for m in store.MemoryStore(path).load().current()}
    assert current == set(ids()) - {other} - ({target} if op == "forget" else set())


def test_export_writes_the_project_section_and_keeps_the_rest(setup, tmp_path):
    config, _ = setup
    claude_md = tmp_path / "shop" / "CLAUDE.md"
    claude_md.parent.mkdir()
    outside = "# Shop\r\n\r\nGrüße, ünïcode — and no final newline".encode()
    claude_md.write_bytes(outside)
    claude_md.chmod(0o644)
    done = analyze(config, "export", "--claude-md", str(claude_md), "--project", PROJECT)
    assert done.returncode == 0, done.stderr
    first = claude_md.read_bytes()
    assert first.startswith(outside + b"\r\n\r\n<!-- glass:memories:start -->\r\n")
    assert first.endswith(b"<!-- glass:memories:end -->\r\n")
    assert b"\n" not in first.replace(b"\r\n", b"")  # the file's CRLF throughout
    section = first[len(outside) :].decode()
    assert MEMORIES[0][0] in section and MEMORIES[2][0] in section
    assert MEMORIES[1][0] not in section and "Grüße-Seite" not in section  # other projects
    assert claude_md.stat().st_mode & 0o777 == 0o644

    # Text after the section, then a rerun after a forget: only the section changes.
    claude_md.write_bytes(first + "trailing ✓ text".encode())
    assert analyze(config, "forget", ids()[0]).returncode == 0
    assert (
        analyze(config, "export", "--claude-md", str(claude_md), "--project", PROJECT).returncode
        == 0
    )
    second = claude_md.read_bytes()
    start, end = (
        second.index(b"<!-- glass:memories:start -->"),
        second.index(b"<!-- glass:memories:end -->"),
    )
    assert second[:start] == outside + b"\r\n\r\n"
    assert second[end:] == "<!-- glass:memories:end -->\r\ntrailing ✓ text".encode()
    assert MEMORIES[0][0].encode() not in second and MEMORIES[2][0].encode() in second
    assert not list(claude_md.parent.glob(".*.tmp"))


def test_export_defaults_to_the_files_folder_and_creates_a_private_file(tmp_path):
    project = tmp_path / "repo"
    config = write_config(tmp_path, base_url=None)
    path = tmp_path / "captures" / "memories.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        store.encode([memory("Run tests with pytest -x.", "convention", str(project))])
    )
    project.mkdir()
    target = project / "CLAUDE.md"
    assert analyze(config, "export", "--claude-md", str(target)).returncode == 0
    assert "Run tests with pytest -x." in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600


def test_export_refuses_a_file_with_a_broken_section(setup, tmp_path):
    config, _ = setup
    claude_md = tmp_path / "CLAUDE.md"
    claude_md.write_bytes(b"intro\n<!-- glass:memories:start -->\nmine, not Glass's\n")
    done = analyze(config, "export", "--claude-md", str(claude_md), "--project", PROJECT)
    assert done.returncode == 2 and "no <!-- glass:memories:end -->" in done.stderr
    assert claude_md.read_bytes() == b"intro\n<!-- glass:memories:start -->\nmine, not Glass's\n"
