"""In a real browser: a new capture of an open session appears on its page, without a reload.

The session page of the real CLI session is open; then one more main-loop request of that
conversation (same session id, its history plus a new prompt) goes through the real proxy
with the anthropic SDK. The page must show the new prompt and answer on its own (it polls),
still the same page (a flag set on `window` survives).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from analyze.conversation import session_id
from tests.browser import Tab
from tests.proxy import CapturingProxy, wait_for_captures
from tests.standin import Reply, Scripted, StandIn
from tests.view.browser.recorded import MAIN_USAGE, CliSession, ViewerServer, send_through_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LIVE_PROMPT = "And where does the heron fly in winter? (asked live)"
LIVE_ANSWER = "South as well, **live** from the stand-in."
LIVE_USAGE = {
    "input_tokens": 1209,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 33100,
    "output_tokens": 77,
}


def test_a_new_capture_appears_on_the_open_session_page(
    tab: Tab,
    viewer: ViewerServer,
    cli_session: CliSession,
    standin: StandIn,
    proxy: CapturingProxy,
) -> None:
    last = cli_session.records()[-1]
    sid = session_id(last)
    page = tab.page
    page.goto(f"{viewer.url}/sessions/{sid}")
    expect(page.get_by_test_id("session-requests")).to_have_text(f"{len(MAIN_USAGE)} main, 0 side")
    expect(page.get_by_text(LIVE_PROMPT)).to_have_count(0)
    page.evaluate("window.__same_page = 'not reloaded'")
    tab.screenshot("live-before")

    request = last["request"]
    standin.responder = Scripted([Reply.text(LIVE_ANSWER, usage=LIVE_USAGE)])
    history = [
        *request["messages"],
        {"role": "assistant", "content": last["response"]["body"]["content"]},
        {"role": "user", "content": LIVE_PROMPT},
    ]
    body = {
        "model": request["model"],
        "max_tokens": 1024,
        "system": request["system"],
        "tools": request["tools"],
        "metadata": request["metadata"],
        "messages": history,
    }
    captured = len(cli_session.records())
    send_through_proxy(proxy, body, session=sid)
    wait_for_captures(proxy.capture_dir, captured + 1)

    expect(page.get_by_test_id("prompt").filter(has_text=LIVE_PROMPT)).to_have_count(
        1, timeout=20_000
    )
    expect(page.get_by_test_id("assistant-text").last.locator("strong")).to_have_text("live")
    expect(page.get_by_test_id("session-requests")).to_have_text(
        f"{len(MAIN_USAGE) + 1} main, 0 side"
    )
    newest = page.get_by_test_id("turn-figures").last
    assert newest.get_attribute("data-output-tokens") == str(LIVE_USAGE["output_tokens"])
    assert tab.script_flag("__same_page") == "not reloaded"
    tab.screenshot("live-after")
    assert (tab.offsite, tab.dialogs, tab.errors) == ([], [], [])


def test_a_failed_update_keeps_the_conversation(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession, captures: Path
) -> None:
    sid = session_id(cli_session.records()[-1])
    page = tab.page
    page.goto(f"{viewer.url}/sessions/{sid}")
    prompts = page.get_by_test_id("prompt").count()
    assert prompts > 0
    for path in captures.glob("*/*.json"):  # the session is gone: its fragment is a 404
        path.unlink()
    expect(page.get_by_test_id("live-status")).to_contain_text("HTTP 404", timeout=20_000)
    expect(page.get_by_test_id("prompt")).to_have_count(prompts)
    tab.screenshot("live-failed")
