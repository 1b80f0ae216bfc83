"""Human formatting for every page: metric cards and compact counts through the column registry
(analytics/columns.py), point spacing in words, and user data made literal for markdown."""

from __future__ import annotations

import math
import re

from analytics import columns
from analytics.slo.state import badge


def metric(where, name: str, value, *, digits: int | None = None, missing: str | None = None, **options) -> None:
    """A metric card for a registry column: its label without the unit (columns.card_label) over its
    value as the registry writes it (columns.text, compact), with the column's help unless given.
    ``where`` is st or a column; ``missing``: the words shown for no value instead of an em dash;
    ``options`` go to st.metric."""
    options.setdefault("help", columns.column(name).help or None)
    if value is None and missing is not None:
        shown = missing
    else:
        shown = columns.text(name, value, compact=True, digits=digits)
    where.metric(columns.card_label(name), shown, **options)


def state_count(where, state: str, count: int, **options) -> None:
    """A metric card counting the things in one state (analytics.slo.state), labelled with its badge."""
    where.metric(badge(state), count, **options)


def per_step(seconds: int) -> str:
    """A chart's point spacing in words: 86400 -> 'per day', 3600 -> 'per hour', 300 -> 'per 5 minutes'."""
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"per {unit}" if n == 1 else f"per {n} {unit}s"
    return f"per {seconds} seconds"


def count(value: float | None) -> str:
    """A count in a caption, compact: 1234567 -> '1.23M'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return columns.MISSING
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


# What makes Streamlit's markdown do something inside a line: emphasis (* _ ~), code (`), links and
# images, colours, emoji and directives (! [ ], ":red[", ":smile:"), LaTeX ($), HTML (< >), tables (|),
# escapes (\\). At the start of the text, block markers (# > - + or "1.") too.
_INLINE = re.compile(r"([\\`*_~\[\]<>$|]|:(?=\S))")
_BLOCK_START = re.compile(r"^(\s*)([#>+\-]|\d+(?=[.)]))")
# Bare URLs and e-mail addresses are made links by GitHub-flavoured markdown even in escaped text
# (remark-gfm finds them in the text after escapes are resolved: "http(s)://", "www." and "x@y.z").
# A zero-width joiner after "://", inside "www." and after "@" leaves them as text, shown alike.
LINK_BREAK = "\u200d"
_AUTOLINK = re.compile(r"(?<=://)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def text(value: object) -> str:
    """User data (deployment and file names, values quoted in errors) made literal for any
    markdown-rendering element (st.caption, st.markdown, st.error...): every character markdown
    acts on is backslash-escaped, line breaks become spaces and a LINK_BREAK goes into every bare
    URL or e-mail address, so a name such as ![x](http://...) shows as typed and no image, link,
    LaTeX or colour is rendered."""
    line = _INLINE.sub(r"\\\1", _AUTOLINK.sub(LINK_BREAK, " ".join(str(value).split())))
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2).isdigit()
                            else m.group(1) + m.group(2) + "\\", line, count=1)
