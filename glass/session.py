"""The session id a capture declares itself: a fact of Claude Code's requests, stated once.

Both stages group captures by conversation: the analyzer (analyze/conversation.py,
which falls back to a hash of the first prompt when there is none) and the
capture stage's disk report (capture/du.py).
"""

from __future__ import annotations

import re
from typing import Any, Final

from glass import jsonio

SESSION_HEADER: Final = "x-claude-code-session-id"
"""Claude Code 2.x names its session in this request header."""

_V1_SESSION = re.compile(r"_session_([0-9a-fA-F-]{8,})")


def declared_session_id(doc: dict[str, Any]) -> str | None:
    """The session a capture names, else None.

    1. the `X-Claude-Code-Session-Id` header (Claude Code 2.x);
    2. `metadata.user_id`: a JSON string with `session_id` (2.x), or
       `user_<hash>_account_<uuid>_session_<uuid>` (1.x).
    """
    for name, value in (doc.get("headers") or {}).items():
        if name.lower() == SESSION_HEADER and isinstance(value, str) and value.strip():
            return value.strip()
    request = doc.get("request")
    metadata = request.get("metadata") if isinstance(request, dict) else None
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str) or not user_id:
        return None
    if user_id.lstrip().startswith("{"):
        try:
            sid = jsonio.loads(user_id).get("session_id")
        except (ValueError, AttributeError):  # not the JSON 2.x writes
            sid = None
        if isinstance(sid, str) and sid:
            return sid
    m = _V1_SESSION.search(user_id)
    return m.group(1) if m else None
