"""What every command shares: a progress bar on stderr, plain text tables, JSON-safe values."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from analytics import columns


class ProgressBar:
    """Callable progress(fraction, message) drawing one updating line on stderr."""

    def __init__(self, label: str, width: int = 30, stream=None):
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr  # read at call time: test runners swap sys.stderr
        self.started = time.monotonic()

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.monotonic() - self.started
        line = f"\r{self.label} [{bar}] {fraction:4.0%} {elapsed:5.1f}s {message[:40]:<40}"
        self.stream.write(line)
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()


def text_table(headers: Sequence[str], rows: Iterable[Sequence], right: Iterable[int] = ()) -> str:
    """Columns padded to their widest cell; the columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers], *([str(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = set(right)
    return "\n".join(
        "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in cells
    )


def registry_table(rows: Iterable[dict], names: Sequence[str], text: dict | None = None) -> str:
    """A text table of registry columns (analytics/columns.py): their labels (which name the unit)
    and formats, an em dash for a missing value, numbers right-aligned. ``text`` maps a column to its own cell function
    (row -> str) where a row decides the format (an SLO target printed with all its nines)."""
    text = text or {}
    cells = [[text[n](r) if n in text else columns.text(n, r.get(n), symbol=False) for n in names] for r in rows]
    right = [i for i, n in enumerate(names) if columns.column(n).spec.style not in ("text", "time", "date", "bool")]
    return text_table([columns.label(n) for n in names], cells, right)


def plain(value):
    """A value as JSON can hold it: NaN and infinities as None, times as ISO-8601 text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def cell(value, pattern: str = "{}") -> str:
    """A table cell: '-' for a missing value (None, NaN, empty), else the formatted value."""
    return "-" if plain(value) in (None, "") else pattern.format(value)
