"""`python -m analytics ingest FILE...`: validate files, then load them all or nothing."""

from __future__ import annotations

import argparse

from analytics.ingest import files as ingest
from analytics.ingest.load import load_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ingest command."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="telemetry files (CSV, Parquet, JSON lines)")
    parser.add_argument("--format", choices=ingest.FORMATS, help="default: from the file name")
    parser.add_argument("--deployment", help="deployment name for the rows (default: file name)")
    parser.add_argument("--start", help="ISO time of the trace start, for relative-time traces")


def run(args, store) -> int:
    """Load the files and report rows per file."""
    from analytics.times import parse_time

    start = parse_time(args.start) if args.start else None
    for item in load_files(store, args.files, args.format, args.deployment, start):
        print(f"ingest: {item.path}: {item.rows:,} rows into {item.table}")
    return 0
