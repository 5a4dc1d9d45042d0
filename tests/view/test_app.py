"""view/app.py: every route, through Flask's test client and over real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from analyze.store import Memory
from tests import viewdata
from tests.view.conftest import make_config
from view.app import NODE_DEPTH, create_app
from view.blocks import LONG_CHARS

ROOT = Path(__file__).resolve().parents[2]
SID = "5e55a0e1-0000-4000-8000-000000000001"


@pytest.fixture
def client(config):
    return create_app(config).test_client()


def page(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    assert "Content-Security-Policy" in r.headers
    return r.get_data(as_text=True)


def count_ids(html: str, name: str) -> int:
    return html.count(f'data-testid="{name}"')


def test_sessions_page_lists_and_filters(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        session_id="other-session",
        prompt="Deploy the dashboard",
        project="/home/dev/dash",
        model="claude-haiku-4-5-20251001",
        start=viewdata.datetime(2026, 11, 22, 9, 0, tzinfo=viewdata.TZ),
        start_number=1,
    )
    html = page(client, "/")
    assert count_ids(html, "session-row") == 2
    assert html.index("Deploy the dashboard") < html.index("Fix the failing test")
    assert count_ids(page(client, "/?project=/home/dev/dash"), "session-row") == 1
    assert count_ids(page(client, "/?day=2026-11-21"), "session-row") == 1
    assert count_ids(page(client, "/?model=claude-sonnet-4-5-20250929"), "session-row") == 1
    found = page(client, "/?q=round(sum(items), 2)")
    assert count_ids(found, "session-row") == 1 and SID in found
    assert "searched the full text of" in found
    assert count_ids(page(client, "/?q=nothing-like-this"), "session-row") == 0
    viewdata.write_session(
        captures, steps=viewdata.coding_steps()[:1], session_id="third", start_number=60
    )
    assert count_ids(page(client, "/"), "session-row") == 3  # the kept list follows the index


def test_sessions_of_side_calls_alone_are_behind_a_toggle(client, captures):
    from tests import corpus

    corpus.write_session(captures, corpus.SESSION_64)
    html = page(client, "/")
    every = page(client, "/?all=1")
    assert 0 < count_ids(html, "session-row") < count_ids(every, "session-row")
    hidden = count_ids(every, "session-row") - count_ids(html, "session-row")
    assert f"{hidden} made of side calls alone" in html
    assert all(int(m) > 0 for m in re.findall(r'data-testid="session-main">(\d+)<', html))


def test_session_page_shows_the_conversation(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    html = page(client, f"/sessions/{SID}")
    assert count_ids(html, "prompt") == 1 and "Fix the failing test in shop/cart.py" in html
    assert count_ids(html, "tool-call") == 3 and count_ids(html, "tool-result") == 3
    assert count_ids(html, "edit-diff") == 1 and count_ids(html, "todo-list") == 1
    assert count_ids(html, "thinking") == 1
    assert count_ids(html, "turn-figures") == 4  # 3 main requests + 1 side call
    assert 'data-testid="side-calls"' in html
    assert "<strong>rounding</strong>" in html
    assert f'href="/sessions/{SID}/diff/2"' in html
    rel = re.search(r'href="(/captures/[^"]+)" data-testid="raw-capture-link"', html).group(1)
    assert count_ids(page(client, rel), "capture-json") == 1
    assert client.get(f"{rel}/raw").status_code == 200
    fragment = page(client, f"/sessions/{SID}?fragment=1")
    assert "<html" not in fragment and count_ids(fragment, "tool-call") == 3


def test_diff_page(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    html = page(client, f"/sessions/{SID}/diff/2")
    assert count_ids(html, "diff-section") == 4
    assert count_ids(html, "message-appended") == 2
    assert "1 message unchanged from the start" in html
    assert count_ids(page(client, f"/sessions/{SID}/diff/1"), "message-appended") == 1
    assert client.get(f"/sessions/{SID}/diff/4").status_code == 404
    assert client.get("/sessions/nobody/diff/1").status_code == 404


def test_long_results_are_fetched_on_demand(client, captures):
    long_text = "line of a big file\n" * 2000
    viewdata.write_session(captures, steps=viewdata.coding_steps(long_result=long_text))
    html = page(client, f"/sessions/{SID}")
    assert long_text not in html and long_text[:LONG_CHARS] in html
    url = re.search(r'data-fetch="([^"]+)"', html).group(1).replace("&amp;", "&")
    r = client.get(url)
    assert r.status_code == 200 and r.get_data(as_text=True) == long_text
    assert r.mimetype == "text/plain"
    base = url.split("/value")[0]
    assert client.get(f"{base}/value?p=/nothing/here").status_code == 404
    assert client.get(f"{base}/value?p=").status_code == 404
    assert client.get(f"{base}/value?p=/request/messages/%C2%B2").status_code == 404
    assert client.get("/?page=%C2%B2").status_code == 200


def test_capture_text_is_never_markup(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps(xss=True), prompt=viewdata.XSS)
    urls = ["/", f"/sessions/{SID}", f"/sessions/{SID}/diff/2", f"/sessions/{SID}?fragment=1"]
    html = page(client, "/")
    urls.append(re.search(r'href="(/sessions/[^"]+)"', html).group(1))
    session_html = page(client, f"/sessions/{SID}")
    urls += sorted(set(re.findall(r'href="(/captures/[^"]+)"', session_html)))
    for url in urls:
        html = page(client, url)
        for raw in (
            "<script>window",
            "<img src=x",
            'href="javascript:',
            "</textarea><textarea>",
            "<svg onload",
        ):
            assert raw not in html, (url, raw)
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in session_html


def test_bad_files_are_notes_never_errors(client, captures):
    paths = viewdata.write_session(captures, steps=viewdata.coding_steps())
    day = paths[0].parent
    (day / "050_120000_messages.json").write_bytes(
        b'{"captured_at": "2026-11-21T12:00:00.000+01:00", "url": "'
    )
    (day / "051_120000_messages.json").write_bytes(b"\x89PNG\x00\x00binary")
    (day / "README.txt").write_text("not a capture")
    viewdata.write_doc(
        captures,
        viewdata.capture_doc(
            session_id="inflight",
            request={"model": "m", "messages": [], "tools": [{}]},
            body=None,
            at=viewdata.datetime(2026, 11, 21, 12, 0, tzinfo=viewdata.TZ),
        ),
        number=52,
        at=viewdata.datetime(2026, 11, 21, 12, 0, tzinfo=viewdata.TZ),
    )
    html = page(client, "/")
    notes = re.findall(r'data-testid="bad-file-note">([^<]*)<', html)
    assert any("050_120000_messages.json: skipped, truncated or invalid JSON" in n for n in notes)
    assert any("051_120000_messages.json: skipped, binary file" in n for n in notes)
    assert any("README.txt: not a capture file" in n for n in notes)
    assert count_ids(page(client, f"/sessions/{SID}"), "bad-file-note") == 3
    bad = page(client, f"/captures/{day.name}/050_120000_messages.json")
    assert count_ids(bad, "bad-file-note") == 1
    inflight = page(client, "/sessions/inflight")
    assert re.search(
        r'data-testid="bad-file-note">[^<]*052_120000_messages.json: no response', inflight
    )


def test_a_deeply_nested_value_is_fetched_on_demand(client, captures):
    deep: dict = {"end": "bottom"}
    for _ in range(300):
        deep = {"d": deep}
    at = viewdata.datetime(2026, 11, 21, 12, 0, tzinfo=viewdata.TZ)
    request = {"model": "m", "messages": [], "metadata": deep}
    doc = viewdata.capture_doc(session_id="deep", request=request, body=None, at=at)
    path = viewdata.write_doc(captures, doc, number=1, at=at)
    html = page(client, f"/captures/{path.parent.name}/{path.name}")
    assert "bottom" not in html
    url = re.search(r'data-fetch="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert url.split("?p=")[1].count("/d") == NODE_DEPTH - 2  # /request/metadata/d/d/...
    r = client.get(url)
    assert r.status_code == 200 and '"end": "bottom"' in r.get_data(as_text=True)


def test_no_captures_folder_yet(client):
    html = page(client, "/")
    assert count_ids(html, "no-captures") == 1 and count_ids(html, "session-row") == 0


def test_paths_outside_the_captures_are_refused(client, captures, tmp_path):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    (tmp_path / "secret.json").write_text('{"captured_at": "x", "url": "y", "request": {}}')
    for url in (
        "/captures/../secret.json",
        "/captures/..%2Fsecret.json/x",
        "/captures/2026-11-21/..%2F..%2Fsecret.json",
        "/captures/2026-11-21/%2E%2E/secret.json",
        "/captures/config.yaml/x.json",
        "/static/../../config.yaml",
    ):
        assert client.get(url).status_code == 404, url


def test_a_foreign_host_name_is_refused_on_loopback(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    assert client.get("/", headers={"Host": "evil.example:8082"}).status_code == 400
    assert client.get(f"/sessions/{SID}", headers={"Host": "127.0.0.1:8082"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8082"}).status_code == 200


def test_poll_says_when_the_session_changed(client, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps()[:2])
    first = client.get(f"/sessions/{SID}/poll").get_json()["version"]
    assert client.get(f"/sessions/{SID}/poll").get_json()["version"] == first
    viewdata.write_session(
        captures, steps=viewdata.coding_steps(), side_call=False, start_number=40
    )
    assert client.get(f"/sessions/{SID}/poll").get_json()["version"] != first


def usage_json(config) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "analyze", "--config", str(config.path), "usage", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_usage_totals_are_those_of_make_usage(client, config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    viewdata.write_session(
        captures,
        steps=viewdata.coding_steps()[:1],
        session_id="s2",
        start=viewdata.datetime(2026, 11, 23, 9, 0, tzinfo=viewdata.TZ),
    )
    html = page(client, "/usage")
    rows = usage_json(config)
    total = re.search(r'<tr data-testid="usage-total"([^>]*)>', html).group(1)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', total))
    for key in (
        "requests",
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    ):
        assert int(attrs[key.replace("_", "-")]) == sum(r[key] for r in rows), key
    assert float(attrs["cost-usd"]) == pytest.approx(sum(r["cost_usd"] for r in rows))
    assert count_ids(html, "usage-chart") == 2
    assert "2026-11-21  main" in html  # the table of make usage, as it prints it


def test_memories_page(client, config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())

    def mem(mid, text, **kw):
        return Memory(
            id=mid,
            text=text,
            kind="preference",
            created_at="2026-11-21T14:00:00+01:00",
            session_id=SID,
            sources=("2026-11-21/002_140005_messages.json",),
            model="m",
            project="/home/dev/shop",
            **kw,
        ).to_json()

    lines = [
        mem("m_old", "Use tabs."),
        mem("m_new", "Use spaces, not tabs.", supersedes=("m_old",)),
        mem("m_gone", "Forget me <b>now</b>."),
        {"op": "forget", "id": "m_gone", "at": "2026-11-21T15:00:00+01:00"},
    ]
    config.analyze.store_path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    html = page(client, "/memories")
    assert count_ids(html, "memory-row") == 1 and "Use spaces, not tabs." in html
    assert (
        'href="/sessions/5e55a0e1-0000-4000-8000-000000000001#turn-2026-11-21-002_140005_messages.json"'
        in html
    )
    everything = page(client, "/memories?all=1")
    assert re.findall(r'data-status="(\w+)"', everything) == ["forgotten", "current", "superseded"]
    assert "Forget me &lt;b&gt;now&lt;/b&gt;." in everything
    assert count_ids(page(client, "/memories?q=SPACES"), "memory-row") == 1
    assert count_ids(page(client, "/memories?q=tabs&all=1"), "memory-row") == 2
    assert count_ids(page(client, "/"), "session-memories") == 1
    assert '<td class="num" data-testid="session-memories">1</td>' in page(client, "/")


def test_no_page_writes_outside_the_viewers_state(client, config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    before = {
        p: p.stat().st_mtime_ns
        for p in captures.rglob("*")
        if config.view.state_path not in p.parents and p != config.view.state_path
    }
    for url in ("/", f"/sessions/{SID}", f"/sessions/{SID}/diff/2", "/memories", "/usage"):
        page(client, url)
    after = {
        p: p.stat().st_mtime_ns
        for p in captures.rglob("*")
        if config.view.state_path not in p.parents and p != config.view.state_path
    }
    assert before == after


def serve(config_path: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "view", "--config", str(config_path), "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+/)", line)
    assert m, line + proc.stderr.read()
    return proc, m.group(1)


def test_over_real_http_on_loopback(config, captures):
    viewdata.write_session(captures, steps=viewdata.coding_steps())
    proc, url = serve(config.path)
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=20) as r:
            assert r.status == 200 and 'data-testid="session-row"' in r.read().decode()
        with urllib.request.urlopen(f"{url}sessions/{SID}", timeout=20) as r:
            assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert 'data-testid="tool-call"' in r.read().decode()
        with urllib.request.urlopen(f"{url}static/view.js", timeout=20) as r:
            assert b"textContent" in r.read()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{url}captures/..%2F..%2Fconfig.yaml/x.json", timeout=20)
        assert e.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_remote_address_needs_allow_remote(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("view:\n  listen_host: 0.0.0.0\n")
    done = subprocess.run(
        [sys.executable, "-m", "view", "--config", str(cfg), "serve", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert (
        "'view.listen_host' is 0.0.0.0, not a loopback address: set view.allow_remote: true"
        in done.stderr
    )
    config = make_config(tmp_path, "view:\n  listen_host: 0.0.0.0\n  allow_remote: true\n")
    proc, url = serve(config.path)
    try:
        assert url.startswith("http://0.0.0.0:")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "Glass: warning: the viewer listens on 0.0.0.0" in proc.stderr.read()


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("127.0.0.1:8082", "127.0.0.1"),
        ("localhost", "localhost"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
    ],
)
def test_host_name(host, name):
    from view.app import host_name

    assert host_name(host) == name
