"""In a real browser: /usage adds up to exactly `make usage ARGS=--json`, and bad files in the
captures folder are visible notes on the pages, never an error page.

Both over the real CLI session's captures. The usage figures are read off the page's totals
row and compared with the sum of the rows `make usage` prints as JSON for the same config;
the page's table must be the one `make usage` prints. The bad files are the issue's list: a
truncated capture, a binary one, a capture with no response, and a file in a day folder that
is no capture at all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analyze.conversation import session_id
from tests.browser import Tab
from tests.proxy import ROOT, capture_files, env_without
from tests.view.browser.recorded import MAIN_USAGE, TOKEN_ATTRIBUTES, CliSession, ViewerServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TOTALS = {"requests": "data-requests", **TOKEN_ATTRIBUTES}
"""`make usage --json` keys -> the attributes of the page's totals row."""


def make_usage(config: Path, *args: str) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "usage", f"CONFIG={config}", f"ARGS={' '.join(args)}"],
        cwd=ROOT,
        env=env_without(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def test_usage_page_totals_equal_make_usage_json(
    tab: Tab, viewer: ViewerServer, config: Path
) -> None:
    rows = [json.loads(line) for line in make_usage(config, "--json").splitlines() if line]
    assert rows, "make usage printed no rows"
    expected = {key: sum(row[key] for row in rows) for key in TOTALS}
    assert expected["requests"] == len(MAIN_USAGE)  # the CLI session's main-loop requests
    assert expected["output_tokens"] == sum(u["output_tokens"] for u in MAIN_USAGE)

    page = tab.page
    page.goto(f"{viewer.url}/usage")
    tab.screenshot("usage")
    total = page.get_by_test_id("usage-total")
    expect(total).to_have_count(1)
    shown = {key: int(total.get_attribute(attribute) or "-1") for key, attribute in TOTALS.items()}
    assert shown == expected
    costs = [row["cost_usd"] for row in rows]
    cost = total.get_attribute("data-cost-usd")
    if None in costs:  # a model without a price: no total cost, on the page as in the report
        assert cost == ""
    else:
        assert abs(float(cost or "nan") - sum(costs)) < 1e-6
    table = page.get_by_test_id("usage-table").inner_text()
    assert table.strip() in make_usage(config)
    expect(page.get_by_test_id("usage-chart").first).to_be_visible()
    assert (tab.offsite, tab.dialogs, tab.errors) == ([], [], [])


def test_bad_files_are_visible_notes_not_errors(
    tab: Tab, viewer: ViewerServer, captures: Path, cli_session: CliSession
) -> None:
    good = capture_files(captures)
    day = good[0].parent
    last = good[-1].read_bytes()
    truncated = day / "901_235900_messages.json"
    truncated.write_bytes(last[: len(last) // 2])
    binary = day / "902_235901_messages.json"
    binary.write_bytes(bytes(range(256)) * 8)
    record = json.loads(good[0].read_bytes())
    record.pop("response")
    no_response = day / "903_235902_messages.json"
    no_response.write_text(json.dumps(record), encoding="utf-8")
    foreign = day / "notes.txt"
    foreign.write_text("not a capture\n", encoding="utf-8")

    page = tab.page
    response = page.goto(f"{viewer.url}/")
    assert response is not None and response.status == 200
    tab.screenshot("sessions-with-bad-files")
    notes = page.get_by_test_id("bad-file-note")
    for bad in (truncated, binary, foreign):
        expect(notes.filter(has_text=f"{day.name}/{bad.name}")).to_have_count(1)
    expect(page.get_by_test_id("session-row")).to_have_count(1)  # the good session still listed

    sid = session_id(json.loads(good[0].read_bytes()))
    response = page.goto(f"{viewer.url}/sessions/{sid}")
    assert response is not None and response.status == 200
    tab.screenshot("session-with-bad-files")
    expect(page.get_by_test_id("tool-call")).to_have_count(2)  # still the whole conversation

    for bad in (truncated, binary, no_response):
        response = page.goto(f"{viewer.url}/captures/{day.name}/{bad.name}")
        assert response is not None and response.status == 200, bad.name
        tab.screenshot(f"capture-{bad.stem}")
    for bad in (truncated, binary):
        page.goto(f"{viewer.url}/captures/{day.name}/{bad.name}")
        expect(page.get_by_test_id("bad-file-note")).to_contain_text(bad.name)
    assert (tab.offsite, tab.dialogs, tab.errors) == ([], [], [])
