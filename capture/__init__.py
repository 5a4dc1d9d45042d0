"""Glass capture stage: a mitmproxy addon that writes every Claude API exchange to a file.

Modules: `addon` (the mitmproxy hooks), `writer` (the process that writes
the files), `record` (what goes into a file), `sse` (stream reassembly),
`providers` (which provider a request is for, its endpoint and model),
`eventstream` (AWS event-stream frames), `bedrock` (a Bedrock stream into the
Message), `files` (naming and atomic writes), `launch` (starting mitmdump and
Claude Code), `provider_env` (`make run-claude PROVIDER=`: where Claude Code will
call, the pre-flight line).
"""
