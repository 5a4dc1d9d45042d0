"""In a real browser: the sessions list, then the session the real Claude Code CLI made.

The session (tests/view/browser/recorded.py) is the real CLI through the real proxy: a Read
of notes.txt, an Edit of it, a Markdown answer, each main-loop answer with usage of its own.
The pages must show the prompt, the tool calls with their results, the Edit as a diff, the
Markdown rendered, the token figures of each request, and the diff between two requests; and
fetch nothing off this machine. Each page is screenshot into the test's tmp folder.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from analyze.conversation import session_id
from tests.browser import Tab
from tests.proxy import API_KEY
from tests.view.browser.recorded import (
    FINAL_TEXT,
    MAIN_USAGE,
    NEW_LINE,
    OLD_LINE,
    PROMPT,
    TOKEN_ATTRIBUTES,
    CliSession,
    ViewerServer,
)
from view.app import fmt_int

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def the_session(cli_session: CliSession) -> str:
    ids = {session_id(r) for r in cli_session.records()}
    assert len(ids) == 1, ids
    return ids.pop()


def open_session(tab: Tab, viewer: ViewerServer, cli_session: CliSession) -> Page:
    """The tab, on the CLI session's page."""
    tab.page.goto(f"{viewer.url}/sessions/{the_session(cli_session)}")
    return tab.page


def assert_clean(tab: Tab) -> None:
    assert tab.offsite == [], "the viewer must fetch nothing off this machine"
    assert tab.dialogs == []
    assert tab.errors == []


def test_sessions_list_shows_the_cli_session_and_links_to_it(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    sid = the_session(cli_session)
    page = tab.page
    page.goto(f"{viewer.url}/")
    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(1)
    row = rows.first
    assert row.get_attribute("data-session-id") == sid
    expect(row.get_by_test_id("session-project")).to_have_text(str(cli_session.project))
    expect(row.get_by_test_id("session-link")).to_contain_text(PROMPT[:30])
    expect(row.get_by_test_id("session-main")).to_have_text(str(len(MAIN_USAGE)))
    tab.screenshot("sessions")
    row.get_by_test_id("session-link").click()
    page.wait_for_url(f"{viewer.url}/sessions/{sid}")
    expect(page.get_by_test_id("session-id")).to_have_text(sid)
    assert_clean(tab)


def test_session_page_shows_prompt_tools_results_diff_and_markdown(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    page = open_session(tab, viewer, cli_session)
    tab.screenshot("session")
    expect(page.get_by_test_id("prompt").filter(has_text=PROMPT)).to_have_count(1)

    read = page.locator("[data-testid=tool-call][data-tool-name=Read]")
    expect(read).to_have_count(1)
    expect(read).to_contain_text(str(cli_session.notes))
    read_result = page.locator(
        f"[data-testid=tool-result][data-tool-id='{read.get_attribute('data-tool-id')}']"
    )
    expect(read_result).to_contain_text("The blue heron nests by the old mill.")
    expect(read_result).to_contain_text(OLD_LINE)

    edit = page.locator("[data-testid=tool-call][data-tool-name=Edit]")
    expect(edit).to_have_count(1)
    diff = edit.get_by_test_id("edit-diff")
    expect(diff).to_contain_text(str(cli_session.notes))
    expect(diff.locator(".d-del")).to_have_text(f"-{OLD_LINE}")
    expect(diff.locator(".d-add")).to_have_text(f"+{NEW_LINE}")
    edit_result = page.locator(
        f"[data-testid=tool-result][data-tool-id='{edit.get_attribute('data-tool-id')}']"
    )
    expect(edit_result).to_have_count(1)

    answer = page.get_by_test_id("assistant-text").last
    expect(answer.locator("strong")).to_have_text("SUMMARY")
    expect(answer.locator("em")).to_have_text("south")
    expect(answer).not_to_contain_text("**")
    assert FINAL_TEXT.replace("**", "").replace("*", "") in answer.inner_text()
    assert_clean(tab)


def test_session_page_shows_each_requests_tokens(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    page = open_session(tab, viewer, cli_session)
    turns = page.locator("[data-testid=turn-figures]:has(.turn-n:text-matches('^request'))")
    expect(turns).to_have_count(len(MAIN_USAGE))
    for n, usage in enumerate(MAIN_USAGE):
        turn = turns.nth(n)
        for key, attribute in TOKEN_ATTRIBUTES.items():
            assert turn.get_attribute(attribute) == str(usage[key]), (n, key)
        expect(turn.get_by_test_id("tokens-input")).to_have_text(
            f"in {fmt_int(usage['input_tokens'])}"
        )
        expect(turn.get_by_test_id("tokens-cache-write")).to_have_text(
            f"cache write {fmt_int(usage['cache_creation_input_tokens'])}"
        )
        expect(turn.get_by_test_id("tokens-cache-read")).to_have_text(
            f"cache read {fmt_int(usage['cache_read_input_tokens'])}"
        )
        expect(turn.get_by_test_id("tokens-output")).to_have_text(
            f"out {fmt_int(usage['output_tokens'])}"
        )
    summary = page.get_by_test_id("session-tokens")
    for key, attribute in TOKEN_ATTRIBUTES.items():
        assert summary.get_attribute(attribute) == str(sum(u[key] for u in MAIN_USAGE)), key
    tab.screenshot("session-tokens")
    assert_clean(tab)


def test_diff_page_shows_what_the_second_request_appended(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    page = open_session(tab, viewer, cli_session)
    page.get_by_test_id("diff-link").nth(1).click()
    page.wait_for_url(re.compile(r"/diff/2$"))
    tab.screenshot("diff")
    messages = page.locator("[data-testid=diff-section][data-section=messages]")
    expect(messages.get_by_test_id("diff-common")).to_contain_text("2 appended")
    appended = messages.get_by_test_id("message-appended")
    expect(appended).to_have_count(2)  # the Read call, and its result
    expect(appended.nth(0)).to_contain_text("(assistant)")
    expect(appended.nth(1)).to_contain_text("The blue heron nests by the old mill.")
    params = page.locator("[data-testid=diff-section][data-section=params]")
    expect(params).to_contain_text("unchanged")  # same model, same parameters
    expect(params.get_by_test_id("diff-param")).to_have_count(0)
    assert_clean(tab)


def test_raw_capture_page_shows_the_stored_redacted_headers(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    page = open_session(tab, viewer, cli_session)
    page.get_by_test_id("raw-capture-link").first.click()
    page.wait_for_url(re.compile(r"/captures/\d{4}-\d{2}-\d{2}/"))
    tab.screenshot("capture")
    captured = page.get_by_test_id("capture-json")
    expect(captured).to_contain_text('"x-api-key": "[REDACTED]"')
    expect(captured).to_contain_text(PROMPT.split("'")[0])  # the page's JSON escapes ' as \u0027
    assert API_KEY not in page.content()
    assert_clean(tab)


def test_search_box_finds_the_session_by_text_in_its_captures(
    tab: Tab, viewer: ViewerServer, cli_session: CliSession
) -> None:
    page = tab.page
    page.goto(f"{viewer.url}/")
    page.get_by_test_id("search-box").fill("heron nests")  # in the tool result and the answer
    page.get_by_test_id("search-box").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=heron\+nests"))
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    expect(page.get_by_test_id("search-summary")).to_be_visible()
    tab.screenshot("search")
    page.get_by_test_id("search-box").fill("no capture says zyzzyva")
    page.get_by_test_id("search-box").press("Enter")
    page.wait_for_url(re.compile(r"zyzzyva"))
    expect(page.get_by_test_id("session-row")).to_have_count(0)
    expect(page.get_by_test_id("session-count")).to_have_text("0 sessions")
    assert_clean(tab)
