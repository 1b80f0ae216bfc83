"""One bench figure (a case) with its target, and the table `python -m analytics bench` prints.

A case's value is in seconds unless its unit says otherwise (x for a ratio, GB, rows/s). A case
with a target prints the target and whether the value meets it; docs/bench.md lists the targets
and the measured figures.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from analytics.cli.common import text_table


class Target(NamedTuple):
    """A limit a value must stay under (or, with at_least, reach)."""

    limit: float
    at_least: bool = False
    strict: bool = False  # "<" rather than "<="

    def met(self, value: float) -> bool | None:
        """Whether value meets the target; None when there is no value (NaN)."""
        if value is None or not math.isfinite(value):
            return None
        if self.at_least:
            return value > self.limit if self.strict else value >= self.limit
        return value < self.limit if self.strict else value <= self.limit

    def text(self, unit: str) -> str:
        sign = (">" if self.strict else ">=") if self.at_least else ("<" if self.strict else "<=")
        return f"{sign} {_number(self.limit, unit)}"


class Case(NamedTuple):
    """One row of the bench table."""

    name: str
    seconds: float  # the value, in `unit` (seconds by default)
    note: str = ""
    target: Target | None = None
    unit: str = "s"


def under(seconds: float, strict: bool = False) -> Target:
    """A time target: at most `seconds` (strict: under)."""
    return Target(seconds, strict=strict)


def _number(value: float, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:,.1f}x"
    if unit == "rows/s":
        return f"{value / 1e6:.2f}M rows/s"
    return f"{value:,.2f} {unit}"


def table(cases: list[Case | tuple]) -> str:
    """The bench's text table: case, value, target and met (where a target exists), note."""
    rows = []
    for case in cases:
        case = case if isinstance(case, Case) else Case(*case)  # a plain (name, seconds, note) has no target
        met = case.target.met(case.seconds) if case.target else None
        rows.append((case.name, _number(case.seconds, case.unit),
                     case.target.text(case.unit) if case.target else "",
                     "" if case.target is None else {True: "met", False: "NOT MET", None: "-"}[met],
                     case.note))
    return text_table(("case", "value", "target", "met", "note"), rows, right=(1,))
