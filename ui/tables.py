"""Tables with readable headers and a CSV download under each."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics.review.report import csv_safe
from ui.format import label, text

CSV_HELP = ("Text cells that begin with = + - @, a tab or a carriage return start with an added ' so "
            "spreadsheets show them as text, not formulas (OWASP CSV injection); delete it to get the "
            "raw value.")

# Column-name suffixes -> how the cell is formatted (Streamlit NumberColumn printf formats).
_FORMATS = (
    ("target", "percent"),
    ("budget_remaining", "percent"),
    ("budget_consumed", "percent"),
    ("budget_spent_this_week", "percent"),
    ("budget_spent_previous_week", "percent"),
    ("_share", "percent"),
    ("attainment_lower", "percent"),
    ("attainment_upper", "percent"),
    ("burn_rate_1h", "%.2f"),
    ("peak_burn", "%.1f"),
    ("hours_to_exhaustion", "%.1f"),
    ("_rate", "percent"),
    ("change", "percent"),
    ("_fraction", "percent"),
    ("_headroom", "percent"),
    ("_activity", "percent"),
    ("mfu_estimate", "percent"),
    ("peak_attainment", "percent"),
    ("availability", "percent"),
    ("attainment", "percent"),
    ("_ms", "%.0f"),
    ("rps", "%.3f"),
    ("_tps", "%.1f"),
)


# Ratios in [0, 1] whose names carry no suffix that says so (DCGM activity means).
RATIO_COLUMNS = {"mean_gpu_util", "mean_sm_active", "mean_sm_occupancy", "mean_tensor_active",
                 "mean_dram_active"}


def _column_config(frame: pl.DataFrame) -> dict:
    config = {}
    for column in frame.columns:
        name = label(column)
        fmt = None
        if frame[column].dtype.is_numeric():
            for suffix, candidate in _FORMATS:
                if column.endswith(suffix):
                    fmt = candidate
                    break
            if column in RATIO_COLUMNS:
                fmt = "percent"
            if fmt is None:
                big = (frame[column].abs().max() or 0) >= 1000
                fmt = "localized" if frame[column].dtype.is_integer() or big else "%.3g"
            config[column] = st.column_config.NumberColumn(name, format=fmt)
        elif frame[column].dtype == pl.Datetime or isinstance(frame[column].dtype, pl.Datetime):
            config[column] = st.column_config.DatetimeColumn(name, format="YYYY-MM-DD HH:mm")
        else:
            config[column] = st.column_config.Column(name)
    return config


def csv_bytes(frame: pl.DataFrame) -> str:
    """The CSV a table's download button gives: csv_safe applied."""
    return csv_safe(frame).write_csv()


def show_table(frame: pl.DataFrame, name: str, *, height: int | None = None, caption: str | None = None) -> None:
    """Show a frame with readable column labels and a 'Download CSV' button named after it."""
    st.dataframe(frame, column_config=_column_config(frame), hide_index=True,
                 height=height or "auto")
    if caption:
        st.caption(caption)
    st.download_button(
        f"Download {text(name)} (CSV)",
        data=csv_bytes(frame),
        file_name=f"{name.lower().replace(' ', '_')}.csv",
        mime="text/csv",
        key=f"download_{name}",
        help=CSV_HELP,
    )
