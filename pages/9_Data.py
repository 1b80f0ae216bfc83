"""Data: what is stored, how fresh it is, and uploads of new telemetry files."""

import polars as pl
import streamlit as st

from ui import traffic as data
from ui import uploads
from ui.page import panel, setup
from ui.tables import show_table

filters = setup("Data")

st.subheader("Tables")
with panel("Tables"):
    stats = data.table_stats()
    show_table(
        stats.with_columns((pl.col("raw_bytes") / pl.col("compressed_bytes").clip(lower_bound=1)).round(1)
                           .alias("compression_ratio"),
                           (pl.col("compressed_bytes") / 2**20).round(1).alias("on_disk_mib"))
        .drop("compressed_bytes", "raw_bytes"),
        "tables",
        caption="Pages read the rollups (requests_5m, gpu_metrics_1h), which materialized views keep "
                "current on every insert; raw tables are for drill-down.",
    )

st.subheader("Freshness per deployment")
with panel("Freshness"):
    fresh = data.freshness()
    if fresh.is_empty():
        st.info("No requests stored yet.")
    else:
        newest = fresh["last_ts"].max()
        show_table(
            fresh.with_columns(((newest - pl.col("last_ts")).dt.total_minutes()).alias("minutes_behind_newest")),
            "freshness",
            caption="Last data = the newest 5-minute slot with requests; a deployment far behind the "
                    "newest slot has stopped sending telemetry (or stopped serving).",
        )

uploads.section(filters)
