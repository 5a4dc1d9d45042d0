"""analyze/recall/index.py: the FTS5 index of the store, kept in step with the JSONL."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from analyze import store
from analyze.ledger import Ledger
from analyze.recall import index as index_mod
from analyze.recall.index import FILE, MemoryIndex, fts_query, project_for
from tests.analyze.recall.fixtures import memory

MEMORIES = [
    ("We run database migrations with alembic, never by hand.", "convention", "/w/app"),
    ("Tests use pytest fixtures from conftest.py.", "convention", "/w/app"),
    ("The user prefers pytest over unittest.", "preference", None),
    ("Deploy with make deploy from the main branch.", "decision", "/w/app"),
    ("A failing migration was fixed by running alembic upgrade head.", "error_fix", "/w/app"),
    ("The Grüße service lives in the greetings folder.", "fact", "/w/other"),
    ("Use pnpm, not npm, for the web client.", "decision", "/w/other"),
]


def line(text, kind="fact", project=None, supersedes=()):
    return store.encode([memory(text, kind, project, supersedes=supersedes)])


def write(path: Path, data: bytes, *, append=True) -> None:
    with path.open("ab" if append else "wb") as f:
        f.write(data)


@pytest.fixture
def jsonl(tmp_path) -> Path:
    path = tmp_path / "memories.jsonl"
    for text, kind, project in MEMORIES:
        write(path, line(text, kind, project))
    return path


def open_index(jsonl: Path) -> MemoryIndex:
    return MemoryIndex.open(store=jsonl, state_dir=jsonl.parent / "state")


def texts(hits):
    return [h.memory.text for h in hits]


def test_ranking_on_a_fixed_set(jsonl):
    with open_index(jsonl) as ix:
        hits = ix.search("how do I run the alembic migrations?")
        # three words beat two; the stopwords "how do I the" count for nothing
        assert texts(hits)[:2] == [MEMORIES[0][0], MEMORIES[4][0]]
        assert hits[0].score > hits[1].score > 0
        assert hits[0].snippet == ("We [run] database [migrations] with [alembic], never by hand.")
        assert set(texts(ix.search("pytest"))) == {MEMORIES[1][0], MEMORIES[2][0]}
        assert texts(ix.search("pytest fixtures"))[0] == MEMORIES[1][0]
        assert ix.search("kubernetes") == []
        assert texts(ix.search("the alembic")) == texts(ix.search("alembic"))
        assert len(ix.search("the")) == 4  # a query of stopwords only searches them
        assert len(ix.search("alembic", limit=1)) == 1


def test_relevance_counts_the_shared_words_in_units_of_a_word_one_memory_has(jsonl):
    with open_index(jsonl) as ix:
        (top, second, *_) = ix.search("how do I run the alembic migrations?")
        # run, alembic, migration: each in 2 of the 7 memories; the stopwords count nothing
        unit = math.log(1 + 6.5 / 1.5)  # idf of a word 1 of 7 memories has
        assert top.relevance == pytest.approx(3 * math.log(1 + 5.5 / 2.5) / unit)
        assert second.relevance == pytest.approx(top.relevance)  # "running" is "run"
        # the index's own tokenizer on both sides: stems, case, diacritics
        assert [h.relevance for h in ix.search("DEPLOYING")] == [pytest.approx(1.0)]
        assert [h.relevance for h in ix.search("gruße")] == [pytest.approx(1.0)]
        assert [h.relevance for h in ix.search("pnpm tests")] == [pytest.approx(1.0)] * 2
        assert ix.search("migra*")[0].relevance == 0  # a prefix word counts only whole


def test_the_smoothed_idf_is_never_negative():
    assert index_mod.idf(7, 7) > 0 and index_mod.idf(0, 7) > index_mod.idf(1, 7)
    assert index_mod.idf(1, 1) > 0
    assert index_mod.relevance([], df={}, total=0) == 0.0


def test_stemming_prefixes_and_diacritics(jsonl):
    with open_index(jsonl) as ix:
        assert MEMORIES[4][0] in texts(ix.search("migrations"))  # "migration" in the text
        assert MEMORIES[0][0] in texts(ix.search("migration"))  # "migrations" in the text
        assert MEMORIES[3][0] in texts(ix.search("deploying"))
        assert MEMORIES[1][0] in texts(ix.search("fixture"))
        assert MEMORIES[0][0] in texts(ix.search("migra*"))
        assert texts(ix.search("GRUSSE")) == []  # ß is not a diacritic ...
        assert texts(ix.search("gruße")) == [MEMORIES[5][0]]  # ... ü is
        assert texts(ix.search("pnpm")) == [MEMORIES[6][0]]


def test_filters_by_project_and_kind(jsonl):
    with open_index(jsonl) as ix:
        assert texts(ix.search("pytest", projects=["/w/app"])) == [MEMORIES[1][0]]
        assert set(texts(ix.search("pytest", projects=["/w/app", None]))) == {
            MEMORIES[1][0],
            MEMORIES[2][0],
        }
        assert texts(ix.search("pytest", projects=[None])) == [MEMORIES[2][0]]
        assert ix.search("pytest", projects=[]) == []
        assert texts(ix.search("pytest", kinds=["preference"])) == [MEMORIES[2][0]]
        assert ix.search("pytest", kinds=[]) == []
        newest_first = [m.text for m in ix.current(projects=["/w/other"])]
        assert newest_first == [MEMORIES[6][0], MEMORIES[5][0]]
        assert len(ix.current()) == len(MEMORIES)
        assert [m.text for m in ix.current(limit=2)] == [MEMORIES[6][0], MEMORIES[5][0]]
        assert [m.kind for m in ix.current(kinds=["decision"])] == ["decision", "decision"]
        assert ix.projects() == ["/w/app", "/w/other"]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "a-b -c --",
        "kind:fact col:x",
        "migra* * ** *a",
        "(alembic OR (deploy",
        "NEAR(alembic deploy, 2)",
        "alembic AND OR NOT",
        "'; DROP TABLE memories; --",
        "^start",
        "\x00\uffff😀",
        "",
        "   ",
        "x" * 10_000,
        " ".join(f"w{i}" for i in range(2000)),
    ],
)
def test_hostile_queries_never_raise(jsonl, query):
    with open_index(jsonl) as ix:
        ix.search(query)
        assert len(ix.current()) == len(MEMORIES)  # nothing dropped
    assert fts_query("'; DROP TABLE memories; --") == '"drop" OR "table" OR "memories"'


def test_the_index_file_is_private(jsonl):
    with open_index(jsonl) as ix:
        assert ix.path == jsonl.parent / "state" / FILE
        assert ix.path.stat().st_mode & 0o777 == 0o600
        assert ix.path.parent.stat().st_mode & 0o777 == 0o700


def test_sync_reads_only_the_appended_lines(jsonl, monkeypatch):
    open_index(jsonl).close()
    before = jsonl.stat().st_size
    write(jsonl, line("Staging runs on port 8443.", project="/w/app"))
    starts = []
    real = index_mod.read_records

    def spy(path, **kw):
        starts.append(kw.get("start", 0))
        return real(path, **kw)

    monkeypatch.setattr(index_mod, "read_records", spy)
    with open_index(jsonl) as ix:
        assert texts(ix.search("staging")) == ["Staging runs on port 8443."]
        assert len(ix.current()) == len(MEMORIES) + 1
    assert starts == [before]
    with open_index(jsonl) as ix:  # nothing new: nothing to read
        assert len(ix.current()) == len(MEMORIES) + 1
    assert starts == [before, jsonl.stat().st_size]


def test_a_line_still_being_written_waits_for_its_end(jsonl):
    whole = line("Half written memory about caching.")
    write(jsonl, whole[:20])
    with open_index(jsonl) as ix:
        assert ix.search("caching") == []
    write(jsonl, whole[20:])
    with open_index(jsonl) as ix:
        assert texts(ix.search("caching")) == ["Half written memory about caching."]


@pytest.mark.parametrize("how", ["shrunk", "rewritten_head", "rewritten_tail", "deleted"])
def test_a_rewritten_store_is_rebuilt(jsonl, how):
    for i in range(60):  # past the 4 KiB fingerprinted at each end
        write(jsonl, line(f"Filler memory number {i} about nothing in particular."))
    assert jsonl.stat().st_size > 3 * 4096
    open_index(jsonl).close()
    data = jsonl.read_bytes()
    replacement = line("Only this memory is left.")
    if how == "shrunk":
        write(jsonl, replacement, append=False)
    elif how == "rewritten_head":  # same length, other first line, then an append
        first = data.index(b"\n") + 1
        swapped = line("X" * 10)
        write(jsonl, swapped + data[first:] + replacement, append=False)
    elif how == "rewritten_tail":  # the first 4 KiB kept, the last line replaced, then appended
        last = data.rindex(b"\n", 0, len(data) - 1) + 1
        write(jsonl, data[:last] + replacement + line("Appended after."), append=False)
    else:
        jsonl.unlink()
    with open_index(jsonl) as ix:
        now = {m.text for m in ix.current()}
    expected = {m.text for m in store.MemoryStore(jsonl).load().current()}
    assert now == expected
    assert (how == "deleted") == (now == set())


def test_a_corrupt_index_file_is_rebuilt(jsonl):
    state = jsonl.parent / "state"
    state.mkdir(mode=0o700)
    (state / FILE).write_bytes(b"this is not a database" * 500)
    with open_index(jsonl) as ix:
        assert ix.path == state / FILE  # rebuilt on disk
        assert MEMORIES[0][0] in texts(ix.search("alembic"))
    db = sqlite3.connect(state / FILE)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_corruption_found_by_a_query_rebuilds_the_index(jsonl):
    open_index(jsonl).close()
    db = sqlite3.connect(jsonl.parent / "state" / FILE)
    db.execute("UPDATE memories_fts_data SET block = x'ffffffffff'")  # FTS5 fails on MATCH
    db.commit()
    db.close()
    with open_index(jsonl) as ix:
        hits = ix.search("alembic")
        assert MEMORIES[0][0] in texts(hits) and hits[0].relevance > 0
        assert ix.path is not None
    db = sqlite3.connect(jsonl.parent / "state" / FILE)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_an_index_that_cannot_be_written_is_built_in_memory(jsonl):
    blocker = jsonl.parent / "not-a-folder"
    blocker.write_text("")
    with MemoryIndex.open(store=jsonl, state_dir=blocker) as ix:
        assert ix.path is None
        hits = ix.search("alembic")
        assert MEMORIES[0][0] in texts(hits) and hits[0].relevance > 0


def test_forgotten_and_superseded_memories_are_left_out(tmp_path):
    path = tmp_path / "memories.jsonl"
    ledger = Ledger(tmp_path / "state")
    old, new = "Use npm for the client.", "Use pnpm for the client, not npm."
    write(path, line(old, project="/p"))
    write(path, line(new, project="/p", supersedes=[store.memory_id(old)]))
    write(path, line("Client builds with vite.", project="/p"))
    mem = store.MemoryStore(path).load()

    def visible():
        with MemoryIndex.open(store=path, state_dir=tmp_path / "state") as ix:
            found = {h.memory.text for h in ix.search("client npm vite")}
            assert found == {m.text for m in ix.current()}
            return found

    assert visible() == {new, "Client builds with vite."}
    store.curate(ledger, mem, op="forget", ids=[store.memory_id("Client builds with vite.")])
    assert visible() == {new}
    # forgetting the correction brings back what it replaced
    store.curate(ledger, mem, op="forget", ids=[store.memory_id(new)])
    assert visible() == {old}
    store.curate(ledger, mem, op="restore", ids=[store.memory_id(new)])
    assert visible() == {new}
    assert visible() == {m.text for m in store.MemoryStore(path).load().current()}
    ledger.close()


def test_project_for_takes_the_longest_enclosing_project():
    known = ["/w/app", "/w/app/sub", "/w/other", "/"]
    assert project_for("/w/app", known) == "/w/app"
    assert project_for("/w/app/", known) == "/w/app"
    assert project_for("/w/app/src/deep", known) == "/w/app"
    assert project_for("/w/app/sub/x", known) == "/w/app/sub"
    assert project_for("/w/apple", ["/w/app"]) is None
    assert project_for("/elsewhere", known) == "/"
    assert project_for("/elsewhere", []) is None


def test_importing_the_index_pulls_in_nothing_heavy():
    heavy = ["anthropic", "httpx", "mcp", "rapidfuzz", "analyze.pipeline", "analyze.backends"]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, analyze.recall.index; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = done.stdout.split()
    assert "analyze.recall.index" in loaded
    assert [m for m in loaded if any(m == h or m.startswith(h + ".") for h in heavy)] == []


def test_an_index_of_another_schema_version_is_rebuilt(jsonl):
    open_index(jsonl).close()
    db = sqlite3.connect(jsonl.parent / "state" / FILE)
    db.execute("UPDATE meta SET value = 0 WHERE key = 'version'")
    db.execute("DELETE FROM memories")  # what an old schema would not have
    db.commit()
    db.close()
    with open_index(jsonl) as ix:
        assert len(ix.current()) == len(MEMORIES)
        assert MEMORIES[0][0] in texts(ix.search("alembic"))
