"""Human formatting of numbers for every page; column labels and formats live in the column
registry (analytics/columns.py)."""

from __future__ import annotations

import math
import re

from analytics import columns

MISSING = columns.MISSING  # an em dash, as in every table


def label(column: str) -> str:
    """A column's label, from the column registry (analytics/columns.py)."""
    return columns.label(column)


def per_step(seconds: int) -> str:
    """A chart's point spacing in words: 86400 -> 'per day', 3600 -> 'per hour', 300 -> 'per 5 minutes'."""
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"per {unit}" if n == 1 else f"per {n} {unit}s"
    return f"per {seconds} seconds"


def count(value: float | None) -> str:
    """1234567 -> '1.23M'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def pct(ratio: float | None, digits: int = 2) -> str:
    """A ratio in [0, 1] as a percentage."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return MISSING
    return f"{ratio * 100:.{digits}f}%"


def ms(value: float | None) -> str:
    """Milliseconds below 1 s, seconds above."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.3g} ms"


def rate(value: float | None) -> str:
    """A per-second rate."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:.3g}/s" if value < 100 else f"{value:,.0f}/s"


# What makes Streamlit's markdown do something inside a line: emphasis (* _ ~), code (`), links and
# images, colours, emoji and directives (! [ ], ":red[", ":smile:"), LaTeX ($), HTML (< >), tables (|),
# escapes (\\). At the start of the text, block markers (# > - + or "1.") too.
_INLINE = re.compile(r"([\\`*_~\[\]<>$|]|:(?=\S))")
_BLOCK_START = re.compile(r"^(\s*)([#>+\-]|\d+(?=[.)]))")


def text(value: object) -> str:
    """User data (deployment and file names, values quoted in errors) made literal for any
    markdown-rendering element (st.caption, st.markdown, st.error...): every character markdown
    acts on is backslash-escaped and line breaks become spaces, so a name such as
    ![x](http://...) shows as typed and no image, link, LaTeX or colour is rendered."""
    line = _INLINE.sub(r"\\\1", " ".join(str(value).split()))
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2).isdigit()
                            else m.group(1) + m.group(2) + "\\", line, count=1)
