"""view: the third stage, a local read-only web viewer of the captures (`python -m view`).

Like the analyzer it reads the filesystem and nothing else: the capture files as
README.md ("Capture file format") documents them, `memories.jsonl`, and the
analyzer's ledger read-only (through the usage report). No page changes a file;
the only file it writes is its own index, in `view.state_dir`.

It imports nothing of `capture/`, and of `analyze/` only these documented,
read-only functions, each to avoid a second copy of a rule:

- `analyze.conversation` (`session_id`, `project`, `scope`, `model`,
  `strip_reminders`, `is_compaction`): sessions are grouped, and main loop told
  from side calls, by the analyzer's own rule;
- `analyze.captures` (`read_capture`, `parse`, `check_shape`, `BadCapture`,
  `iter_captures`): reading a file, plain or gzipped, and why it is bad;
- `analyze.usage.scan.build_report` and `analyze.usage.render`: /usage shows the
  very numbers and table of `make usage`; `analyze.usage.prices.Pricer` prices a
  session's tokens as the report does (`view/cost.py`), and
  `analyze.usage.scan.incomplete_reason` says why an exchange has no full usage;
- `analyze.store` (reading the memory store: current, superseded, forgotten).

Where things happen: `view/skeleton.py` (a capture's index facts without parsing
its messages), `view/index.py` (the SQLite index, incremental by mtime and size),
`view/sessions.py` (the session list and a session's conversation),
`view/blocks.py` (one message block as display data: text, tool call, diff,
checklist), `view/diff.py` (what changed between two requests),
`view/markdown.py` (escaped Markdown), `view/paths.py` (path validation),
`view/cost.py` (prices), `view/memories.py` (the memories page's data),
`view/app.py` (the Flask routes), `view/usage_page.py` (the usage chart),
`view/export.py` (one self-contained HTML file), `view/cli.py` (the commands).
"""
