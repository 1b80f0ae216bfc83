"""Tables with the registry's labels and formats (analytics/columns.py) and a CSV download under each.

Missing values: st.dataframe(placeholder=...) (Streamlit >= 1.50; "The text that should be shown for
missing values", st.dataframe docs) draws an em dash in any cell holding null while the column keeps
its numeric type, so numeric columns still sort as numbers; each column's header tooltip (its
column_config help) says why a cell of that column can be empty. Number formats are Streamlit's
built-ins ("percent", "dollar", "localized"); the NumberColumn step sets their decimals.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import columns as C
from analytics.review.report import csv_text
from analytics.review.verdicts import with_badges
from ui.format import text

CSV_HELP = ("Raw values, one unit per column (named in the header: _ratio is a fraction, _ms milliseconds, "
            "_usd US dollars). Text cells that begin with = + - @, a tab or a carriage return start with an "
            "added ' so spreadsheets show them as text, not formulas (OWASP CSV injection); delete it to get "
            "the raw value.")

ROW_PX, HEADER_PX, MAX_ROWS = 35, 38, 25  # Streamlit's default row height; taller tables scroll
LONG_TEXT = 28  # characters: longer text columns get a fixed width (full text in the cell's overlay)

_NUMBER_FORMATS = {"ratio": "percent", "usd": "dollar"}


def _step(digits: int, style: str) -> float:
    """Streamlit derives the shown decimals from the step (percent: two fewer than the step's)."""
    return 10.0 ** -(digits + 2 if style == "ratio" else digits)


def _column_config(frame: pl.DataFrame) -> dict:
    config = {}
    for name, dtype in frame.schema.items():
        c = C.column(name)  # raises UnknownColumn: a page cannot show a column the registry lacks
        k = c.spec
        if dtype.is_numeric() and k.style not in ("text", "time", "date", "bool"):
            config[name] = st.column_config.NumberColumn(
                c.label, help=c.tooltip, format=_NUMBER_FORMATS.get(k.style, "localized"),
                step=_step(c.decimals, k.style))
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(
                c.label, help=c.tooltip, format="YYYY-MM-DD" if k.style == "date" else "YYYY-MM-DD HH:mm")
        elif dtype == pl.Boolean:
            config[name] = st.column_config.CheckboxColumn(c.label, help=c.tooltip)
        else:  # text; a long table's values (numbers as text in each row's unit) align as numbers
            long = dtype == pl.String and (frame[name].str.len_chars().max() or 0) > LONG_TEXT
            config[name] = st.column_config.TextColumn(c.label, help=c.tooltip, width="medium" if long else None,
                                                       alignment="right" if c.kind == "per_row" else None)
    return config


def height(rows: int) -> int | str:
    """Every row visible up to MAX_ROWS (no table cut off its last rows); longer tables scroll."""
    return "content" if rows <= MAX_ROWS else HEADER_PX + ROW_PX * MAX_ROWS


def csv_bytes(frame: pl.DataFrame) -> str:
    """The CSV a table's download button gives: registry CSV names, raw values, csv_safe applied."""
    return csv_text(frame)


def show_table(frame: pl.DataFrame, name: str, *, caption: str | None = None) -> None:
    """Show a frame with the registry's labels and formats and a 'Download CSV' button named after it.
    Detail columns (Column.detail) start hidden so the table fits the page; they are in the CSV and
    the table's column menu shows them. The first column stays pinned while scrolling sideways."""
    shown = with_badges(C.display_frame(frame))  # shapes beside states, as on every page
    config = _column_config(shown)
    hidden = [c for c in shown.columns if C.column(c).detail]
    visible = [c for c in shown.columns if c not in hidden]
    if visible:
        config[visible[0]]["pinned"] = True
    st.dataframe(shown, column_config=config, hide_index=True, height=height(frame.height), placeholder=C.MISSING,
                 column_order=visible if hidden else None)
    more = (f"Also in the CSV (and the table's column menu): {', '.join(C.label(c) for c in hidden)}."
            if hidden else "")
    if caption or more:
        st.caption(" ".join(t for t in (caption, more) if t))
    st.download_button(
        f"Download {text(name)} (CSV)",
        data=csv_bytes(frame),
        file_name=f"{name.lower().replace(' ', '_')}.csv",
        mime="text/csv",
        key=f"download_{name}",
        help=CSV_HELP,
        on_click="ignore",  # a download does not rerun the page
    )
