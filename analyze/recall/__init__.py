"""Recall: the memories back into Claude Code (hooks, MCP) and into the user's hands (search).

Nothing here may import the analyzer's heavy parts (the anthropic SDK, httpx,
mcp, the pipeline, the backends) at module level: the hooks start on every
Claude Code session and prompt.
"""
