"""Glass benchmarks: `make bench` (= `python -m bench`), `python -m bench --quick capture`.

Every benchmark module exposes `run(quick: bool) -> list[Result]` (plain dicts
with the same keys are accepted too) and is listed once in
`bench/__main__.py`'s `BENCHMARKS`. A result is one *ratio* measured side by
side in a single run (e.g. requests/s with the addon ÷ requests/s without),
so that the machine's speed cancels out, and a `goal` for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Result", "standalone"]

_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9.eE+-]+)\s*$")


@dataclass(frozen=True)
class Result:
    """One benchmark figure.

    `goal` is a string such as ``">= 0.95"`` or ``"<= 0.05"``; a bare number
    means ``">= number"``; None marks a reference figure without a goal.
    """

    name: str
    ratio: float | None
    goal: str | float | None = None
    detail: str = ""

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return "-"
        if isinstance(self.goal, (int, float)):
            return f">= {self.goal:g}"
        return str(self.goal).strip()

    @property
    def met(self) -> bool | None:
        """True/False against the goal; None for a reference figure (or no ratio)."""
        if self.goal is None:
            return None
        if self.ratio is None or (isinstance(self.ratio, float) and math.isnan(self.ratio)):
            return False
        m = _GOAL.match(self.goal_text)
        if not m:
            raise ValueError(f"{self.name}: goal {self.goal!r} is not like '>= 0.95' or '<= 0.05'")
        op, bound = m.group(1), float(m.group(2))
        return {
            "<=": self.ratio <= bound,
            ">=": self.ratio >= bound,
            "<": self.ratio < bound,
            ">": self.ratio > bound,
        }[op]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["goal"] = None if self.goal is None else self.goal_text
        out["met"] = self.met
        return out

    @classmethod
    def coerce(cls, obj: Any) -> Result:
        """A Result from a Result or a dict with the same keys."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, dict):
            return cls(
                name=str(obj["name"]),
                ratio=obj.get("ratio"),
                goal=obj.get("goal"),
                detail=str(obj.get("detail", "")),
            )
        raise TypeError(f"a benchmark returned {type(obj).__name__}, expected Result or dict")


def standalone(
    run: Callable[..., list[Result]], *, prog: str, doc: str, argv: Sequence[str] | None = None
) -> int:
    """`python -m bench.<module> [--quick]`: one benchmark module run and printed on its own."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a smaller workload")
    args = parser.parse_args(argv)
    for result in run(quick=args.quick):
        verdict = "ok" if result.met else "MISSED"
        print(f"{result.name}: {result.ratio:.3f} (goal {result.goal_text}, {verdict})")
        print(f"  {result.detail}")
    return 0
