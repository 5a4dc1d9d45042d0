"""analyze/ledger.py: states, seen hashes, calls, the lock."""

import subprocess
import sys

from analyze.ledger import SCHEMA, Call, Ledger
from glass.tokens import Tokens


def test_states_counts_and_problems(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.mark(["a", "b"], "processed")
    ledger.mark(["c"], "quarantined", reason="binary file")
    ledger.mark(["d"], "failed", reason="anthropic: 500 boom")
    assert ledger.counts() == {"processed": 2, "quarantined": 1, "failed": 1}
    assert ledger.finished() == {"a", "b", "c", "d"}
    assert ledger.finished(include_failed=False) == {"a", "b", "c"}  # failed: retried at start
    assert ledger.problems("failed") == [("d", "anthropic: 500 boom")]
    ledger.mark(["d"], "processed")  # a retry that worked replaces the failure
    assert ledger.counts()["failed"] == 0
    ledger.close()


def test_seen_hashes_and_calls_survive_reopening(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.commit_processed(["a"], session_id="s", hashes=[b"1" * 16, b"2" * 16])
    ledger.record_call(
        Call(
            at="2026-11-21T10:00:00+00:00",
            backend="anthropic",
            model="m",
            ok=True,
            tokens=Tokens(input=10, cache_write_5m=4, cache_write_1h=2, output=3),
        )
    )
    ledger.close()
    again = Ledger.open_readonly(tmp_path)
    assert again.seen_hashes("s") == {b"1" * 16, b"2" * 16}
    assert [c.tokens for c in again.calls()] == [
        Tokens(input=10, cache_write_5m=4, cache_write_1h=2, output=3)
    ]
    assert oct((tmp_path / Ledger.FILE).stat().st_mode & 0o777) == "0o600"
    again.close()


def test_open_readonly_without_a_ledger(tmp_path):
    assert Ledger.open_readonly(tmp_path / "none") is None


def test_only_one_analyzer_holds_a_state_folder(tmp_path):
    first = Ledger(tmp_path)
    first.lock()
    code = (
        "import sys; from pathlib import Path; from analyze.ledger import Ledger, AlreadyRunning\n"
        "try:\n    Ledger(Path(sys.argv[1])).lock()\nexcept AlreadyRunning as e:\n    print(e); sys.exit(3)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert other.returncode == 3 and "another analyzer" in other.stdout
    first.close()
    again = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert again.returncode == 0


def test_a_ledger_from_before_the_1h_column_is_read_and_migrated(tmp_path):
    import sqlite3

    old_schema = SCHEMA.replace(
        ",\n    cache_write_1h_tokens       INTEGER NOT NULL DEFAULT 0  -- of cache_creation_input_tokens",
        "",
    )
    assert old_schema != SCHEMA
    db = sqlite3.connect(tmp_path / Ledger.FILE)
    db.executescript(old_schema)
    db.execute(
        "INSERT INTO calls (at, backend, model, ok, input_tokens, cache_creation_input_tokens)"
        " VALUES ('2026-11-21T10:00:00+00:00', 'anthropic', 'm', 1, 5, 7)"
    )
    db.commit()
    db.close()
    readonly = Ledger.open_readonly(tmp_path)
    assert [c.tokens for c in readonly.calls()] == [Tokens(input=5, cache_write_5m=7)]
    readonly.close()
    ledger = Ledger(tmp_path)  # adds the column
    ledger.record_call(
        Call(at="t", backend="anthropic", model="m", ok=True, tokens=Tokens(cache_write_1h=3))
    )
    assert [c.tokens for c in ledger.calls()] == [
        Tokens(input=5, cache_write_5m=7),
        Tokens(cache_write_1h=3),
    ]
    ledger.close()
