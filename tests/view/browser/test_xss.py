"""In a real browser: a capture full of HTML and script shows as text, and no script of it runs.

The hostile conversation goes through the real proxy with the anthropic SDK, so the files are
what the capture stage writes: `<script>`, `<img onerror>`, `<svg onload>`, `<iframe>`,
`javascript:` links (raw and in Markdown) and `</textarea>` / `</pre>` break-outs, in the
prompt, the system prompt (changed between the two requests, so the diff page shows it), a
tool definition, a tool call's input, a long tool result (fetched on demand) and the Markdown
answer; a memory in the store carries them too. Every payload would set `window.__pwned`
and open a dialog. Every page is opened (sessions with a search for `<script>`, the session,
its diff, each capture, memories, usage, and the exported HTML file) and must show no dialog,
no flag, no element a payload would have made, and the payloads as visible text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analyze.store import Memory, memory_id
from tests.browser import Tab
from tests.proxy import ROOT, CapturingProxy, capture_files, wait_for_captures
from tests.standin import Reply, Scripted, StandIn
from tests.view.browser.recorded import ViewerServer, send_through_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SESSION = "0dd5e55e-0000-4000-8000-00000000c0de"


def payloads(where: str) -> str:
    """Every kind of payload, each tagged with `where` it was put."""
    return "\n".join(
        [
            f"<script>window.__pwned='{where}-script';alert('{where}-script')</script>",
            f"<img src=x onerror=\"window.__pwned='{where}-img';alert('{where}-img')\">",
            f"<svg onload=\"window.__pwned='{where}-svg'\"></svg>",
            f"<iframe src=\"javascript:window.__pwned='{where}-iframe'\"></iframe>",
            f"<a href=\"javascript:window.__pwned='{where}-a'\">raw link {where}</a>",
            f"[markdown link {where}](javascript:window.__pwned='{where}-md')",
            f"</textarea></pre></code><script>window.__pwned='{where}-break'</script>",
        ]
    )


VISIBLE = "<script>window.__pwned='prompt-script';alert('prompt-script')</script>"
"""One payload as the page must show it: as text."""

INJECTED = (
    "img[src='x'], [onerror], [onload], iframe, a[href^='javascript:' i], "
    "svg:not([data-testid=usage-chart]):not(.legend svg)"
)
"""What a payload that escaped would have put in the DOM (the viewer's own SVG: /usage's chart
and its legend)."""


def tools(where: str) -> list[dict]:
    return [
        {
            "name": "Bash",
            "description": payloads(where),
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]


def record_hostile_session(proxy: CapturingProxy, standin: StandIn) -> None:
    """Two main-loop requests of one conversation, full of payloads, through the real proxy."""
    call = {"command": payloads("input")}
    standin.responder = Scripted(
        [
            Reply.tool_use("Bash", call, tool_id="toolu_xss_000001"),
            Reply.text(payloads("answer") + "\n\n**bold** and a [fine link](http://127.0.0.1/)"),
        ]
    )
    prompt = {"role": "user", "content": payloads("prompt")}
    first = {
        "model": "claude-xss-test",
        "max_tokens": 512,
        "system": "You are a test. " + payloads("system1"),
        "tools": tools("tool"),
        "messages": [prompt],
    }
    send_through_proxy(proxy, first, session=SESSION)
    result = payloads("result") + "\n" + "padding so that the result is sent collapsed " * 40
    second = {
        **first,
        "system": "You are a test. " + payloads("system2"),
        "messages": [
            prompt,
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_xss_000001", "name": "Bash", "input": call}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_xss_000001", "content": result}
                ],
            },
        ],
    }
    send_through_proxy(proxy, second, session=SESSION)


def write_hostile_memory(store: Path, *, source: str) -> None:
    text = payloads("memory")
    memory = Memory(
        id=memory_id(text),
        text=text,
        kind="decision",
        created_at="2026-01-01T00:00:00+00:00",
        session_id=SESSION,
        sources=(source,),
        model="claude-xss-test",
        project="/tmp/<script>window.__pwned='project'</script>",
    )
    store.write_text(json.dumps(memory.to_json()) + "\n", encoding="utf-8")


def assert_inert(tab: Tab, name: str) -> None:
    """The page now: nothing ran, nothing was injected, nothing fetched off the machine."""
    page = tab.page
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # a failed <img src=x> fires onerror after its request
    tab.screenshot(name)
    assert tab.script_flag("__pwned") is None, f"{name}: a payload ran"
    assert tab.dialogs == [], f"{name}: a payload opened a dialog"
    found = page.locator(INJECTED)
    assert found.count() == 0, (
        f"{name}: injected {found.evaluate_all('e => e.map(x => x.outerHTML)')}"
    )
    inline = page.evaluate(
        "[...document.scripts].filter(s => s.textContent.includes('__pwned')).length"
    )
    assert inline == 0, f"{name}: a script element holds a payload"
    assert tab.offsite == [], f"{name}: fetched {tab.offsite}"


@pytest.fixture
def hostile(standin: StandIn, proxy: CapturingProxy, captures: Path, tmp_path: Path) -> list[Path]:
    """The hostile session's two capture files (beside the CLI session), and its memory."""
    before = len(capture_files(captures))
    record_hostile_session(proxy, standin)
    paths = wait_for_captures(captures, before + 2)[before:]
    assert len(paths) == 2
    write_hostile_memory(
        tmp_path / "memories.jsonl", source=f"{paths[0].parent.name}/{paths[0].name}"
    )
    return paths


def test_no_script_from_a_capture_runs_on_any_page(
    tab: Tab, viewer: ViewerServer, hostile: list[Path]
) -> None:
    page = tab.page

    page.goto(f"{viewer.url}/?q=%3Cscript%3E")
    row = page.locator(f"[data-testid=session-row][data-session-id='{SESSION}']")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("session-link")).to_contain_text("<script>")
    assert_inert(tab, "sessions-search")

    page.goto(f"{viewer.url}/sessions/{SESSION}")
    expect(page.get_by_test_id("prompt").first).to_contain_text(VISIBLE)
    answer = page.get_by_test_id("assistant-text").last
    expect(answer).to_contain_text("<img src=x onerror=")
    expect(answer).to_contain_text("</textarea></pre></code><script>")
    expect(answer.locator("strong")).to_have_text("bold")  # Markdown still renders
    for link in answer.get_by_text("markdown link answer").all():
        link.click()
    tool_call = page.locator("[data-testid=tool-call][data-tool-name=Bash]")
    expect(tool_call).to_contain_text("<svg onload=")
    more = page.get_by_test_id("tool-result-more")
    expect(more).to_have_count(1)  # the long result came collapsed
    page.get_by_test_id("tool-result").locator("summary").click()
    more.click()
    expect(page.get_by_test_id("tool-result")).to_contain_text('<iframe src="javascript:')
    expect(page.get_by_test_id("tool-result-more")).to_have_count(0)
    assert_inert(tab, "session")

    page.goto(f"{viewer.url}/sessions/{SESSION}/diff/2")
    system = page.locator("[data-testid=diff-section][data-section=system]")
    expect(system).to_contain_text("window.__pwned='system2-script'")
    assert_inert(tab, "diff")

    for n, path in enumerate(hostile, 1):
        page.goto(f"{viewer.url}/captures/{path.parent.name}/{path.name}")
        expect(page.get_by_test_id("capture-json")).to_be_visible()
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true })")
        more = page.get_by_test_id("value-more")
        for left in range(more.count(), 0, -1):  # each long string, fetched on demand
            more.first.click()
            expect(more).to_have_count(left - 1)
        assert_inert(tab, f"capture-{n}")

    page.goto(f"{viewer.url}/memories")
    expect(page.locator("body")).to_contain_text("window.__pwned='memory-script'")
    assert_inert(tab, "memories")

    page.goto(f"{viewer.url}/usage")
    expect(page.get_by_test_id("usage-table")).to_contain_text("TOTAL")
    assert_inert(tab, "usage")

    assert tab.errors == []


def test_no_script_from_a_capture_runs_in_the_exported_file(
    tab: Tab, hostile: list[Path], config: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "session.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "view",
            "--config",
            str(config),
            "export",
            SESSION,
            "-o",
            str(exported),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    page = tab.page
    page.goto(exported.as_uri())
    expect(page.get_by_test_id("prompt").first).to_contain_text(VISIBLE)
    assert_inert(tab, "export")
    assert tab.errors == [], f"the exported file's own inline script fails: {tab.errors}"
