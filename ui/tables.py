"""Tables with the registry's labels and formats (analytics/columns.py) and a CSV download under each.

Missing values: st.dataframe(placeholder=...) (Streamlit >= 1.50; "The text that should be shown for
missing values", st.dataframe docs) draws an em dash in any cell holding null while the column keeps
its numeric type, so numeric columns still sort as numbers; each column's header tooltip (its
column_config help) says why a cell of that column can be empty. Number formats are Streamlit's
built-ins ("percent", "dollar", "localized"); the NumberColumn step sets their decimals. Streamlit
cuts a number to those decimals, it does not round (its frontend's NumberColumn truncates the value
to the step's decimals before formatting, Streamlit 1.67), so the table is given its numbers rounded
by the registry's one rule (columns.rounded_frame): a cell reads what columns.text writes.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import columns as column_registry
from analytics.review.report import csv_text
from analytics.slo.state import with_badges
from ui.format import text

CSV_HELP = ("Raw values, one unit per column (named in the header: _ratio is a fraction, _ms milliseconds, _utc a UTC time, "
            "_usd US dollars). Text cells that begin with = + - @, a tab or a carriage return start with an "
            "added ' so spreadsheets show them as text, not formulas (OWASP CSV injection); delete it to get "
            "the raw value.")

ROW_PX, HEADER_PX, MAX_ROWS = 35, 38, 25  # Streamlit's default row height; taller tables scroll
WRAP_ROW_PX = 70  # rows taller than 4rem let text wrap (Streamlit's DataFrame grid); three lines of text
WRAP_MAX_ROWS = 10  # short tables wrap long text; longer ones cut it (the cell's overlay and the CSV hold it)
WRAP_TEXT_PX = 130  # long text in a wrapping table: three lines of about 17 characters, so more columns fit
# Widths: the grid draws 14 px Source Sans, measured in Chromium at 7.0 px a digit and 5.6-6.6 px
# another character, with 8 px padding either side; a header also needs room for its sort arrow.
DIGIT_PX, CHAR_PX, PAD_PX, MIN_PX, LONG_PX, CHECK_PX = 7.0, 6.6, 22, 56, 240, 64
# What every table fits in without scrolling sideways: the main column at a 1280 x 800 window with
# the sidebar open is 818 px wide; less the vertical scroll bar and borders. Wider windows stretch the
# shown columns (they grow to fill).
BUDGET_PX = 800
SAMPLE_ROWS = 500  # widths are measured on the first rows of a longer table

_NUMBER_FORMATS = {"ratio": "percent", "usd": "dollar"}


def _step(digits: int, style: str) -> float:
    """Streamlit derives the shown decimals from the step (percent: two fewer than the step's)."""
    return 10.0 ** -(digits + 2 if style == "ratio" else digits)


def _px(text: str) -> int:
    digits = sum(ch.isdigit() for ch in text)
    return round(digits * DIGIT_PX + (len(text) - digits) * CHAR_PX + PAD_PX)


def widths(shown: pl.DataFrame) -> dict[str, int]:
    """Each column's width in pixels: its header or its longest value as the registry writes it
    (whichever is wider), long text cut at LONG_PX (the whole text is in the cell's overlay and the CSV)."""
    out = {}
    head = shown.head(SAMPLE_ROWS)
    for name, dtype in head.schema.items():
        c = column_registry.column(name)
        if dtype == pl.Boolean:
            value = CHECK_PX
        elif isinstance(dtype, pl.Datetime):
            value = _px("2026-11-23" if c.spec.style == "date" else "2026-11-23 04:05")
        elif dtype == pl.String or not dtype.is_numeric():
            value = max((_px(str(v)) for v in head[name].drop_nulls()), default=MIN_PX)
        else:
            digits = column_registry.table_decimals(name, shown[name])
            value = max((_px(column_registry.text(name, v, symbol=False, digits=digits)) for v in head[name].drop_nulls()),
                        default=MIN_PX)
        out[name] = max(MIN_PX, min(LONG_PX, max(value, _px(c.header))))
    return out


def _cut(values: pl.Series) -> bool:
    """Whether a text column holds a value wider than LONG_PX (the grid cuts it)."""
    # the estimate runs ~10% wide of what Chromium draws: wrap only text clearly past the width
    return values.dtype == pl.String and any(_px(v) > 1.15 * LONG_PX for v in values.drop_nulls().head(SAMPLE_ROWS))


def _wrapped_px(values: pl.Series) -> int:
    """A long text column's width where rows wrap: WRAP_TEXT_PX, or its longest word (a name such as
    chat-llama3-8b-use-goodput is never broken mid-word), at most LONG_PX."""
    words = (w for v in values.drop_nulls().head(SAMPLE_ROWS) for w in v.split())
    return min(LONG_PX, max([WRAP_TEXT_PX, *(_px(w) for w in words)]))


def fit(order: list[str], px: dict[str, int], budget: int = BUDGET_PX) -> tuple[list[str], list[str]]:
    """The columns shown by default (the longest prefix of ``order`` within ``budget``; the first
    always) and the rest, which the table hides (they stay in the CSV and the Show/hide menu)."""
    shown, used = [], 0
    for name in order:
        if shown and used + px[name] > budget:
            break
        shown.append(name)
        used += px[name]
    return shown, [n for n in order if n not in shown]


def _column_config(frame: pl.DataFrame, px: dict[str, int]) -> dict:
    config = {}
    for name, dtype in frame.schema.items():
        c = column_registry.column(name)  # raises UnknownColumn: a page cannot show a column the registry lacks
        k = c.spec
        common = {"help": c.tooltip, "width": px[name]}
        if dtype.is_numeric() and k.style not in ("text", "time", "date", "bool"):
            digits = column_registry.table_decimals(name, frame[name])
            config[name] = st.column_config.NumberColumn(
                c.header, format=_NUMBER_FORMATS.get(k.style, "localized"), step=_step(digits, k.style), **common)
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(
                c.header, format="YYYY-MM-DD" if k.style == "date" else "YYYY-MM-DD HH:mm", **common)
        elif dtype == pl.Boolean:
            config[name] = st.column_config.CheckboxColumn(c.header, **common)
        else:  # text; a long table's values (numbers as text in each row's unit) align as numbers
            config[name] = st.column_config.TextColumn(c.header, alignment="right" if c.kind == "per_row" else None,
                                                       **common)
    return config


def height(rows: int) -> int | str:
    """Every row visible up to MAX_ROWS (no table cut off its last rows); longer tables scroll."""
    return "content" if rows <= MAX_ROWS else HEADER_PX + ROW_PX * MAX_ROWS


def csv_bytes(frame: pl.DataFrame) -> str:
    """The CSV a table's download button gives: registry CSV names, raw values, csv_safe applied."""
    return csv_text(frame)


def shown_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame a table is given: labels and units per row (display_frame), state badges, empty text
    as missing, and numbers rounded to the decimals they show by the registry's one rule (Streamlit
    cuts a number to its column's decimals: given it unrounded, 0.26596 would read 26.5%)."""
    shown = with_badges(column_registry.display_frame(frame))  # shapes beside states, as on every page
    shown = shown.with_columns(pl.col(c).replace("", None) for c, t in shown.schema.items() if t == pl.String)
    return column_registry.rounded_frame(shown)


def layout(shown: pl.DataFrame, order: list[str], *, wrap: bool = False) -> tuple[list[str], dict[str, int], bool]:
    """(the columns shown by default, every column's width, whether rows are three lines tall).
    A short table (at most WRAP_MAX_ROWS rows, or ``wrap``) whose shown text is longer than LONG_PX
    wraps it over three lines; its long text columns then narrow (_wrapped_px), so the columns
    after them fit too."""
    px = widths(shown)
    narrow = {c: _wrapped_px(shown[c]) if w >= LONG_PX and shown[c].dtype == pl.String else w for c, w in px.items()}
    visible, _ = fit(order, narrow)
    tall = (wrap or shown.height <= WRAP_MAX_ROWS) and any(_cut(shown[c]) for c in visible if px[c] >= LONG_PX)
    if tall:
        return visible, narrow, True
    return fit(order, px)[0], px, False


def show_table(frame: pl.DataFrame, name: str, *, caption: str | None = None,
               columns: list[str] | None = None, wrap: bool = False) -> None:
    """Show a frame with the registry's labels and formats and a 'Download CSV' button named after it.

    The table fits the page without scrolling sideways: ``columns`` (default: the registry's
    TABLE_COLUMNS for ``name``) lists what answers the page's question, most important first; the
    longest prefix of it that fits BUDGET_PX is shown, the first column pinned. Every other column
    stays in the frame, the CSV and the table's Show/hide columns menu, and the caption names them.
    Text longer than LONG_PX is cut; in a table of at most WRAP_MAX_ROWS rows (or with ``wrap``)
    rows are three lines tall so it wraps instead (``layout``). Empty text shows as a missing value
    (em dash).
    """
    shown = shown_frame(frame)
    order = columns if columns is not None else column_registry.table_columns(name, shown.columns)
    visible, px, tall = layout(shown, order, wrap=wrap)
    hidden = [c for c in shown.columns if c not in visible]
    config = _column_config(shown, px)
    config[visible[0]]["pinned"] = True
    rows = min(frame.height, MAX_ROWS)
    st.dataframe(shown, column_config=config, hide_index=True, placeholder=column_registry.MISSING,
                 column_order=visible if hidden else None,
                 height=(HEADER_PX + WRAP_ROW_PX * max(rows, 1) + 2) if tall else height(frame.height),
                 row_height=WRAP_ROW_PX if tall else None)
    more = ("More columns in the CSV and the table's Show/hide columns menu: "
            f"{text(', '.join(column_registry.header(c) for c in hidden))}." if hidden else "")
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
