"""End to end: the real Claude Code CLI through the real capturing proxy, then the viewer.

The stand-in drives a Read tool call; the viewer (its Flask app over the proxy's own
config) must list that one session, show the prompt, the tool call and its result, the
final answer, the token figures the captures hold, a diff, and export it.
"""

from __future__ import annotations

import re

import pytest

from glass.config import load_config
from tests.e2e.test_capture_e2e import make_run_claude, no_proxy_env
from tests.proxy import API_KEY, capture_files, load_capture, require_claude, wait_for_captures
from tests.standin import ClaudeCodeResponder
from view.app import create_app
from view.cli import main as view_main

pytestmark = pytest.mark.e2e


def test_a_real_claude_code_session_in_the_viewer(proxy, standin, capture_dir, tmp_path):
    claude = require_claude()
    project = tmp_path / "project"
    project.mkdir()
    notes = project / "notes.txt"
    notes.write_text("The blue heron nests by the old mill.\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    final_text = "SUMMARY: a heron nests by the old mill."
    standin.responder = ClaudeCodeResponder(read_path=str(notes), final_text=final_text)
    env = {k: v for k, v in no_proxy_env().items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(
        HOME=str(home),
        ANTHROPIC_API_KEY=API_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    prompt = "Read the file notes.txt and summarise it"
    done = make_run_claude(
        proxy.config_path,
        claude=claude,
        project=project,
        env=env,
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
    sid = main[0]["headers"].get("X-Claude-Code-Session-Id") or next(
        v for k, v in main[0]["headers"].items() if k.lower() == "x-claude-code-session-id"
    )
    assert f'data-session-id="{sid}"' in listing
    row = re.search(rf'data-session-id="{re.escape(sid)}".*?</tr>', listing, re.DOTALL).group(0)
    assert prompt in row and str(project) in row
    assert f'data-testid="session-main">{len(main)}<' in row

    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert re.search(rf'data-testid="prompt">[^<]*{re.escape(prompt)}', html)
    assert 'data-testid="tool-call" data-tool-name="Read"' in html
    result = re.search(
        r'data-testid="tool-result".*?<pre class="result-text">([^<]*)', html, re.DOTALL
    )
    assert result and "blue heron nests by the old mill" in result.group(1)
    assert final_text in html
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
    assert final_text in exported and "blue heron" in exported
