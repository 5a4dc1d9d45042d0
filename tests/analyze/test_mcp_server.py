"""analyze/mcp_server.py: the real server process, driven by the MCP SDK's own stdio client."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from analyze import store
from tests.analyze.recall.fixtures import memory
from tests.analyzer_harness import PYTHON, ROOT, clean_env, read_store, write_config

PROJECT = "/work/shop"
TEXTS = [
    ("Database migrations run with alembic upgrade head.", "convention", PROJECT),
    ("The user prefers small commits with imperative messages.", "preference", None),
    ("Deploys go through make deploy on the main branch.", "decision", PROJECT),
    ("The billing service migrates nightly.", "fact", "/work/other"),
]


def write_store(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(tmp_path, base_url=None)
    path = tmp_path / "captures" / "memories.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(store.encode(memory(t, k, p) for t, k, p in TEXTS))
    return config, path


async def session_calls(config: Path, cwd: str, calls):
    params = StdioServerParameters(
        command=PYTHON,
        args=["-m", "analyze", "--config", str(config), "mcp"],
        env=clean_env(PYTHONPATH=str(ROOT)),
        cwd=cwd,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await calls(session)


def payload(result):
    assert not result.isError, result.content
    content = result.structuredContent  # a list comes wrapped as {"result": [...]}
    return content["result"] if set(content) == {"result"} else content


def test_the_sdk_client_lists_and_calls_every_tool(tmp_path):
    config, path = write_store(tmp_path)
    project = tmp_path / "shop"
    project.mkdir()
    forget_id = store.memory_id(TEXTS[2][0])

    async def calls(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        searched = await session.call_tool("search_memories", {"query": "migrations"})
        limited = await session.call_tool(
            "search_memories", {"query": "migrations commits", "kind": "preference", "limit": 1}
        )
        listed = await session.call_tool("list_memories", {"project": PROJECT})
        everything = await session.call_tool("list_memories", {})
        forgot = await session.call_tool("forget_memory", {"id": forget_id})
        again = await session.call_tool("forget_memory", {"id": forget_id})
        after = await session.call_tool("list_memories", {"project": PROJECT + "/src"})
        unknown = await session.call_tool("forget_memory", {"id": "m_0000000000000000"})
        bad_kind = await session.call_tool("search_memories", {"query": "x", "kind": "opinion"})
        return tools, searched, limited, listed, everything, forgot, again, after, unknown, bad_kind

    tools, searched, limited, listed, everything, forgot, again, after, unknown, bad_kind = (
        anyio.run(session_calls, config, str(project), calls)
    )
    assert set(tools) == {"search_memories", "list_memories", "forget_memory"}
    search_schema = tools["search_memories"].inputSchema
    assert search_schema["required"] == ["query"]
    assert set(search_schema["properties"]) == {"query", "kind", "limit"}
    assert "preference" in json.dumps(search_schema["properties"]["kind"])
    assert tools["forget_memory"].inputSchema["required"] == ["id"]
    assert all(len(t.description or "") > 80 for t in tools.values())

    # cwd is no known project: search covers every project
    assert {r["text"] for r in payload(searched)} == {TEXTS[0][0], TEXTS[3][0]}
    assert (
        "[migrations]" in payload(searched)[0]["match"]
        or "[migrates]" in payload(searched)[0]["match"]
    )
    assert [r["text"] for r in payload(limited)] == [TEXTS[1][0]]
    assert [r["text"] for r in payload(listed)] == [TEXTS[2][0], TEXTS[0][0]]
    assert len(payload(everything)) == len(TEXTS)
    assert payload(forgot)["id"] == forget_id and payload(forgot)["already_forgotten"] is False
    assert payload(again)["already_forgotten"] is True
    assert [r["text"] for r in payload(after)] == [TEXTS[0][0]]
    assert unknown.isError and "no memory with id m_0000000000000000" in unknown.content[0].text
    assert bad_kind.isError
    ops = [r for r in read_store(path) if "op" in r]
    assert [(r["op"], r["id"]) for r in ops] == [("forget", forget_id)]


def test_search_is_scoped_to_the_project_the_server_runs_in(tmp_path):
    config, _ = write_store(tmp_path)
    shop = tmp_path / "shop"
    (shop / "sub").mkdir(parents=True)
    # the store's project is /work/shop; run the server in a folder that is that project
    path = tmp_path / "captures" / "memories.jsonl"
    data = path.read_text().replace(PROJECT, str(shop))
    path.write_text(data)

    async def calls(session):
        return await session.call_tool("search_memories", {"query": "migrations commits"})

    rows = payload(anyio.run(session_calls, config, str(shop / "sub"), calls))
    assert {r["text"] for r in rows} == {TEXTS[0][0], TEXTS[1][0]}  # not /work/other's
