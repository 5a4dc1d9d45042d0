"""analyze/store.py: the memory store, deduplication and the exactly-once commit."""

import json

import pytest

from analyze import store
from analyze.backends.base import Candidate
from analyze.ledger import Ledger


@pytest.fixture
def parts(tmp_path):
    ledger = Ledger(tmp_path / "state")
    mem = store.MemoryStore(tmp_path / "memories.jsonl")
    yield ledger, mem
    ledger.close()


def new(mem, *texts, kind="fact", supersedes=(), session="s1", project=None):
    return mem.new_memories(
        [Candidate(text=t, kind=kind, supersedes=tuple(supersedes)) for t in texts],
        session_id=session,
        project=project,
        sources=["2026-11-21/001_x_messages.json"],
        model="claude-haiku-5-5",
    )


def test_normalized_text_decides_identity():
    assert store.memory_id("Use pnpm, not npm.") == store.memory_id("  use PNPM not npm ")
    assert store.memory_id("Use pnpm") != store.memory_id("Use npm")


def test_commit_appends_lines_and_marks_captures(parts, tmp_path):
    ledger, mem = parts
    memories = new(mem, "The API listens on 8042.", "the api listens on 8042", "Tests use pytest.")
    assert len(memories) == 2  # the second is the first, normalized
    store.commit(
        ledger, mem, rels=["a", "b"], session_id="s1", hashes=[b"h" * 16], memories=memories
    )
    lines = (tmp_path / "memories.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines] == [
        "The API listens on 8042.",
        "Tests use pytest.",
    ]
    first = json.loads(lines[0])
    assert set(first) >= {"id", "text", "kind", "created_at", "session_id", "sources", "model"}
    assert first["sources"] == ["2026-11-21/001_x_messages.json"]
    assert ledger.state_of("a") == "processed" and ledger.seen_hashes("s1") == {b"h" * 16}
    assert (tmp_path / "memories.jsonl").stat().st_mode & 0o777 == 0o600
    # the same memory proposed again is not written again
    assert new(mem, "THE API LISTENS ON 8042!") == []


def test_secrets_are_scrubbed_before_the_id_is_taken(parts):
    _, mem = parts
    (m,) = new(mem, "Deploy with token sk-ant-api03-abcdefghijklmnop")
    assert "sk-ant" not in m.text and m.id == store.memory_id(m.text)


def test_supersedes_keeps_only_known_ids_and_hides_the_old(parts, tmp_path):
    ledger, mem = parts
    (old,) = new(mem, "Use npm.")
    store.commit(ledger, mem, rels=["a"], session_id="s1", hashes=[], memories=[old])
    (newer,) = new(mem, "Use pnpm.", kind="decision", supersedes=[old.id, "m_unknown"])
    assert newer.supersedes == (old.id,)
    store.commit(ledger, mem, rels=["b"], session_id="s1", hashes=[], memories=[newer])
    reloaded = store.MemoryStore(tmp_path / "memories.jsonl").load()
    assert [m.text for m in reloaded.current()] == ["Use pnpm."]
    assert [m.text for m in reloaded.memories] == ["Use npm.", "Use pnpm."]


def test_known_for_prefers_the_project_and_recent(parts):
    ledger, mem = parts
    a = new(mem, "A1", "A2", project="/a")
    b = new(mem, "B1", project="/b", session="s2")
    store.commit(ledger, mem, rels=["x"], session_id="s1", hashes=[], memories=a + b)
    assert [k.text for k in mem.known_for(project="/a", session_id="zz", limit=5)] == ["A2", "A1"]
    assert [k.text for k in mem.known_for(project=None, session_id="s2", limit=5)] == ["B1"]
    assert len(mem.known_for(project="/a", session_id="s1", limit=1)) == 1


@pytest.mark.parametrize("cut", ["after_begin", "torn", "after_append"])
def test_recover_completes_an_interrupted_commit_exactly_once(tmp_path, cut):
    ledger = Ledger(tmp_path / "state")
    mem = store.MemoryStore(tmp_path / "memories.jsonl")
    (first,) = new(mem, "First.")
    store.commit(ledger, mem, rels=["a"], session_id="s", hashes=[], memories=[first])
    memories = new(mem, "Second.", "Third.")
    data = store.encode(memories)
    pending = store.PendingCommit(
        offset=mem.size(), data=data, rels=["b", "c"], session_id="s", hashes=[b"x" * 16]
    )
    ledger.begin_commit(pending)  # ... and the process dies somewhere after this
    if cut == "torn":
        mem.write_at(pending.offset, data[:10])
    elif cut == "after_append":
        mem.write_at(pending.offset, data)
    ledger.close()

    ledger = Ledger(tmp_path / "state")
    mem = store.MemoryStore(tmp_path / "memories.jsonl")
    assert store.recover(ledger, mem) is True
    mem.load()
    assert [m.text for m in mem.memories] == ["First.", "Second.", "Third."]
    assert not mem.problems
    assert ledger.state_of("c") == "processed" and ledger.pending_commit() is None
    assert store.recover(ledger, mem) is False  # idempotent
    ledger.close()


def test_unreadable_lines_are_skipped_with_a_note(tmp_path):
    path = tmp_path / "memories.jsonl"
    good = {"id": "m_1", "text": "ok", "kind": "fact"}
    path.write_text(json.dumps(good) + "\n{torn\n" + "[1]\n")
    mem = store.MemoryStore(path).load()
    assert [m.text for m in mem.memories] == ["ok"] and len(mem.problems) == 2


def test_commit_after_a_foreign_unterminated_line_starts_a_new_line(parts, tmp_path):
    ledger, mem = parts
    path = tmp_path / "memories.jsonl"
    path.write_text('{"id": "m_1", "text": "ok", "kind": "fact"}')  # no newline at the end
    store.commit(ledger, mem, rels=["a"], session_id="s", hashes=[], memories=new(mem, "Next."))
    assert [json.loads(line)["text"] for line in path.read_text().splitlines()] == ["ok", "Next."]


# -- near-duplicates (recall.near_duplicate_threshold) ---------------------------------------


def near_store(tmp_path, threshold=0.85):
    ledger = Ledger(tmp_path / "state")
    mem = store.MemoryStore(tmp_path / "memories.jsonl", near_duplicate_threshold=threshold)
    return ledger, mem


def test_a_near_duplicate_supersedes_the_older_memory(tmp_path):
    ledger, mem = near_store(tmp_path)
    (old,) = new(mem, "The user prefers tabs.", kind="preference", project="/p")
    store.commit(ledger, mem, rels=["a"], session_id="s1", hashes=[], memories=[old])
    (newer,) = new(mem, "User prefers tabs over spaces for indentation.", project="/p")
    assert newer.supersedes == (old.id,)  # token_set_ratio 0.895 >= 0.85
    store.commit(ledger, mem, rels=["b"], session_id="s1", hashes=[], memories=[newer])
    assert [m.text for m in store.MemoryStore(mem.path).load().current()] == [newer.text]
    ledger.close()


def test_below_the_threshold_both_stay(tmp_path):
    ledger, mem = near_store(tmp_path, threshold=0.9)
    (old,) = new(mem, "The user prefers tabs.", project="/p")
    store.commit(ledger, mem, rels=["a"], session_id="s1", hashes=[], memories=[old])
    (newer,) = new(mem, "User prefers tabs over spaces for indentation.", project="/p")
    assert newer.supersedes == ()  # 0.895 < 0.9
    (unrelated,) = new(mem, "Deploys run with make deploy.", project="/p")
    assert unrelated.supersedes == ()
    ledger.close()


def test_near_duplicates_count_only_within_a_project(tmp_path):
    ledger, mem = near_store(tmp_path)
    (old,) = new(mem, "The user prefers tabs.", project="/p")
    store.commit(ledger, mem, rels=["a"], session_id="s1", hashes=[], memories=[old])
    (other,) = new(mem, "User prefers tabs over spaces for indentation.", project="/q")
    assert other.supersedes == ()
    ledger.close()


def test_in_one_batch_the_later_wins_too_and_forgotten_ones_stay_forgotten(tmp_path):
    ledger, mem = near_store(tmp_path)
    texts = ["The user prefers tabs.", "User prefers tabs over spaces.", "The user prefers tabs!!"]
    batch = new(mem, *texts, project="/p")
    assert [m.text for m in batch] == texts[:2]  # the third is the first, normalized
    assert batch[1].supersedes == (batch[0].id,)
    store.commit(ledger, mem, rels=["a"], session_id="s1", hashes=[], memories=batch)
    assert [m.text for m in mem.current()] == [texts[1]]
    store.curate(ledger, mem, op="forget", ids=[batch[1].id])
    assert [m.text for m in mem.current()] == [texts[0]]  # what it superseded is back
    assert new(mem, "User prefers tabs over spaces for indentation.", project="/p") == []
    assert new(mem, "The user prefers tabs.", project="/p") == []  # the exact one too
    ledger.close()


def test_without_a_threshold_only_exact_duplicates_are_dropped(parts):
    _, mem = parts
    assert len(new(mem, "The user prefers tabs.", "User prefers tabs over spaces.")) == 2


# -- curation: forget / restore -------------------------------------------------------------


def test_curate_writes_each_change_once_and_refuses_unknown_ids(parts, tmp_path):
    ledger, mem = parts
    a, b = new(mem, "Alpha fact.", "Beta fact.")
    store.commit(ledger, mem, rels=["x"], session_id="s1", hashes=[], memories=[a, b])
    with pytest.raises(store.UnknownMemory, match="m_nope"):
        store.curate(ledger, mem, op="forget", ids=[a.id, "m_nope"])
    assert store.curate(ledger, mem, op="forget", ids=[a.id, a.id]) == [a.id]
    assert store.curate(ledger, mem, op="forget", ids=[a.id]) == []  # already forgotten
    assert store.curate(ledger, mem, op="restore", ids=[b.id]) == []  # never forgotten
    lines = [json.loads(x) for x in (tmp_path / "memories.jsonl").read_text().splitlines()]
    assert [(x["op"], x["id"]) for x in lines if "op" in x] == [("forget", a.id)]
    reloaded = store.MemoryStore(tmp_path / "memories.jsonl").load()
    assert reloaded.forgotten == {a.id} and [m.id for m in reloaded.current()] == [b.id]
    assert [m.id for m in reloaded.memories] == [a.id, b.id]  # records are not memories
    assert ledger.pending_commit() is None


def test_a_running_analyzer_sees_another_process_forget(parts, tmp_path):
    ledger, analyzer_view = parts
    a, b = new(analyzer_view, "Alpha fact.", "Beta fact.", project="/p")
    store.commit(ledger, analyzer_view, rels=["x"], session_id="s1", hashes=[], memories=[a, b])
    other = store.MemoryStore(tmp_path / "memories.jsonl")  # the `forget` command
    other_ledger = Ledger(tmp_path / "state")
    store.curate(other_ledger, other, op="forget", ids=[a.id])
    other_ledger.close()
    known = analyzer_view.known_for(project="/p", session_id="s1", limit=10)
    assert [k.id for k in known] == [b.id]
    (c,) = new(analyzer_view, "Gamma fact.", project="/p")
    store.commit(ledger, analyzer_view, rels=["y"], session_id="s1", hashes=[], memories=[c])
    assert [m.id for m in store.MemoryStore(tmp_path / "memories.jsonl").load().current()] == [
        b.id,
        c.id,
    ]
