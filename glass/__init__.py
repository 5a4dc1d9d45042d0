"""Pieces every stage shares, so that no stage imports another.

- `glass.config`: config.yaml, read and validated; `glass.contract`: the facts
  of the file contract (names, the analyzer header, the redaction mark, the
  memory kinds, the proxy's ready line); `glass.session`: which conversation a
  capture declares.
- `glass.jsonio`: JSON parsing through orjson, the json module deciding what it refuses.
- `glass.tokens`: `Tokens` and `Price`, the one type for token counts.
- `glass.hints`: a make command as the user must type it for the config in use.
- `glass.claude_settings`: recognising Glass's hooks in Claude Code's settings.
- `glass.pidfile`, `glass.procs`, `glass.logpipe`: the background processes
  (`make run-claude` starting a proxy, `make up`/`down`), their pid files,
  lock and size-rotated logs.

The stages meet in the capture files, whose format is written down in README.md.
"""
