"""analyze/usage/render.py: the cells, the JSON row and the hints, from made-up rows."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

from analyze.usage import database, render
from analyze.usage.prices import CONFIG_SOURCE, DATABASE_SOURCE, Source
from analyze.usage.scan import Report, Row
from glass.tokens import Tokens


def test_json_row_has_the_documented_keys_in_order():
    row = Row(
        key="2026-11-21",
        scope="main",
        requests=2,
        tokens=Tokens(input=1, cache_write_5m=2, cache_write_1h=3, cache_read=4, output=5),
        priced_usd=0.5,
    )
    assert list(render.row_json(row).items()) == [
        ("key", "2026-11-21"),
        ("scope", "main"),
        ("requests", 2),
        ("input_tokens", 1),
        ("cache_creation_input_tokens", 5),
        ("cache_read_input_tokens", 4),
        ("output_tokens", 5),
        ("cost_usd", 0.5),
        ("incomplete", 0),
        ("priced_by", {}),
    ]
    assert render.row_json(Row(key="k", scope="side", unpriced=1))["cost_usd"] is None


def test_money_cells():
    assert render.money(Row(key="k", scope="main")) == "$0.00"
    assert render.money(Row(key="k", scope="main", priced_usd=0.01234)) == "$0.0123"
    assert render.money(Row(key="k", scope="main", priced_usd=1234.5)) == "$1,234.50"
    assert render.money(Row(key="k", scope="main", unpriced=1)) == "?"
    assert render.money(Row(key="k", scope="main", priced_usd=0.01, unpriced=1)) == "$0.0100+?"


def empty_report(**kwargs: Any) -> Report:
    """A report of no rows, with `kwargs` set."""
    return Report(
        by="day",
        rows=[],
        total=Row(key="TOTAL", scope=""),
        captures_dir=Path("/nowhere"),
        **{"captures_found": True, "incomplete": Counter(), **kwargs},
    )


def test_notes_name_the_make_command_of_the_config_in_use():
    report = empty_report(captures_found=False)
    (note,) = render.notes(
        report, config_name="other.yaml", make=lambda t: f"make {t} CONFIG=other.yaml"
    )
    assert "run `make capture CONFIG=other.yaml` and `make run-claude CONFIG=other.yaml`" in note


def test_the_price_sources_line_shows_a_looser_database_match():
    def source(kind: str, matched: str) -> Source:
        return Source(source=kind, matched=matched)

    report = empty_report(
        price_sources={
            ("claude-opus-4-10", "anthropic"): source(DATABASE_SOURCE, "claude-opus-4-1"),
            ("claude-sonnet-4-5-20250929", "anthropic"): source(
                DATABASE_SOURCE, "claude-sonnet-4-5"
            ),
            ("global.anthropic.claude-opus-4-8-v1:0", "bedrock"): source(
                DATABASE_SOURCE, "global.anthropic.claude-opus-4-8-v1:0"
            ),
            ("claude-x", "vertex"): source(CONFIG_SOURCE, "claude-x"),
        },
    )
    assert render.price_sources(report) == [
        "prices: usage.prices for claude-x (vertex);"
        f" {database.NAME} for claude-opus-4-10 as claude-opus-4-1, claude-sonnet-4-5-20250929,"
        " global.anthropic.claude-opus-4-8-v1:0 (bedrock)"
    ]
    assert render.price_sources(dataclasses.replace(report, price_sources={})) == []
