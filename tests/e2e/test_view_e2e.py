"""End to end: the real Claude Code CLI through the real capturing proxy, then the viewer.

The stand-in drives a Read tool call; the viewer (its Flask app over the proxy's own
config) must list that one session, show the prompt, the tool call and its result, the
final answer, the token figures the captures hold, a diff, and export it.
"""

from __future__ import annotations

import re

import pytest

from glass.config import load_config
from glass.session import declared_session_id
from tests.e2e.test_capture_e2e import make_run_claude
from tests.proxy import (
    capture_files,
    claude_env,
    load_capture,
    require_claude,
    wait_for_captures,
)
from tests.standin import NOTES_PROMPT, NOTES_SUMMARY, notes_task
from view.app import create_app
from view.cli import main as view_main

pytestmark = pytest.mark.e2e


def test_a_real_claude_code_session_in_the_viewer(proxy, standin, capture_dir, tmp_path):
    claude = require_claude()
    task = notes_task(tmp_path)
    standin.responder = task.responder
    prompt = NOTES_PROMPT
    done = make_run_claude(
        proxy.config_path,
        claude=claude,
        project=task.project,
        env=claude_env(task.home),
        args=f'-p "{prompt}" --allowedTools Read',
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    wait_for_captures(capture_dir, len(standin.message_requests))
    proxy.stop()
    records = [load_capture(p) for p in capture_files(capture_dir)]
    main = [r for r in records if r["request"].get("tools")]
    assert len(main) >= 2

    config = load_config(proxy.config_path)
    client = create_app(config).test_client()
    listing = client.get("/").get_data(as_text=True)
    sid = declared_session_id(main[0])
    assert f'data-session-id="{sid}"' in listing
    row = re.search(rf'data-session-id="{re.escape(sid)}".*?</tr>', listing, re.DOTALL).group(0)
    assert prompt in row and str(task.project) in row
    assert f'data-testid="session-main">{len(main)}<' in row

    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert re.search(rf'data-testid="prompt">[^<]*{re.escape(prompt)}', html)
    assert 'data-testid="tool-call" data-tool-name="Read"' in html
    result = re.search(
        r'data-testid="tool-result".*?<pre class="result-text">([^<]*)', html, re.DOTALL
    )
    assert result and "blue heron nests by the old mill" in result.group(1)
    assert NOTES_SUMMARY in html
    attrs = re.search(r'data-testid="session-tokens" ([^>]*)>', html).group(1)
    figures = dict(re.findall(r'data-([a-z-]+)="(\d+)"', attrs))
    usage = [
        r["response"]["body"]["usage"] for r in records if (r.get("response") or {}).get("body")
    ]
    assert int(figures["input-tokens"]) == sum(u.get("input_tokens", 0) for u in usage)
    assert int(figures["output-tokens"]) == sum(u.get("output_tokens", 0) for u in usage)
    assert html.count('data-testid="turn-figures"') == len(records)

    diff = client.get(f"/sessions/{sid}/diff/2").get_data(as_text=True)
    assert 'data-testid="message-appended"' in diff

    out = tmp_path / "session.html"
    assert view_main(["--config", str(proxy.config_path), "export", sid, "-o", str(out)]) == 0
    exported = out.read_text(encoding="utf-8")
    assert NOTES_SUMMARY in exported and "blue heron" in exported
