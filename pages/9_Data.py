"""Data: what is stored, how fresh it is, and uploads of new telemetry files."""

import os
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from analytics.errors import SourceError
from analytics.ingest import files as ingest
from analytics.ingest.load import load_files
from analytics.times import parse_time
from ui import traffic as data
from ui.connection import get_store
from ui.format import text
from ui.page import ROOT, panel, setup
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

st.subheader("Upload telemetry")
st.caption("Files are validated completely before anything is written: a bad file loads nothing "
           "and the error names the file, row and column.")
with st.form("upload"):
    files = st.file_uploader("Files", accept_multiple_files=True,
                             type=["csv", "parquet", "json", "jsonl"], key="upload_files")
    fmt_choice = st.selectbox("Format", ingest.FORMATS, key="upload_format", help=ingest.__doc__)
    deployment = st.text_input("Deployment name (optional; default: the file name)", key="upload_deployment")
    start_text = st.text_input("Trace start, ISO time UTC (relative-time traces)", key="upload_start",
                               placeholder="2024-01-01T00:00:00Z")
    submitted = st.form_submit_button("Validate and load")



def _without_folder(message: str, folder: str, paths: list[Path], names: dict[str, str]) -> str:
    """An upload error as the user knows the files: no server path (the temporary folder, in
    any spelling, or the project's), each file by its uploaded name."""
    for spelling in {folder, os.path.realpath(folder)}:
        for path in paths:
            message = message.replace(f"{spelling}/{path.parent.name}/{path.name}", names[path.parent.name])
        message = message.replace(spelling, "<upload>")
    return message.replace(str(ROOT), "<project>")


if submitted and files:
    with tempfile.TemporaryDirectory() as folder:
        paths, names = [], {}
        repeated = len({Path(f.name).name for f in files}) < len(files)
        for number, upload in enumerate(files, 1):
            name = Path(upload.name).name or "upload"
            # One folder per file: two uploads with the same name never overwrite each other.
            path = Path(folder) / str(number) / name
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
            names[str(number)] = f"{name} (file {number})" if repeated else name
        try:
            start = parse_time(start_text, "trace start") if start_text else None
            staged = load_files(get_store(), paths, fmt_choice, deployment or None, start)
        except ValueError as exc:  # InputError and a bad start time
            st.error(text(_without_folder(str(exc), folder, paths, names)))
        except SourceError as exc:
            st.error(f"The store refused the rows: {text(_without_folder(str(exc), folder, paths, names))}")
        else:
            data.clear()
            for item in staged:
                label = names[Path(item.path).parent.name]
                st.success(f"{text(label)}: {item.rows:,} rows loaded into {item.table}")
elif submitted:
    st.warning("Choose at least one file.")
