"""`python -m analytics ingest FILE...`: validate files, then load them all or nothing."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from analytics.ingest import files as ingest
from analytics.ingest.load import load_files, scan, shift_to


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ingest command."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="telemetry files (CSV, Parquet, JSON lines), or deployments files (CSV, YAML)")
    parser.add_argument("--format", choices=ingest.FORMATS, help="default: from the file name (a deployments CSV: from its header)")
    parser.add_argument("--deployment", help="deployment name for the rows (default: file name)")
    parser.add_argument("--start", help="ISO time of the trace start, for relative-time traces")
    parser.add_argument("--shift-to-now", action="store_true",
                        help="move every time by whole days so the newest row falls in the last day "
                             "(an old trace shown as recent; hours of day are kept); reads the files twice")


def run(args, store) -> int:
    """Load the files and report rows per file."""
    from analytics.times import parse_time

    start = parse_time(args.start, "--start") if args.start else None
    shift = timedelta(0)
    if args.shift_to_now:
        shift = shift_to(scan(args.files, args.format, args.deployment, start), datetime.now(UTC))
        print(f"ingest: times moved {shift.days:,} days later")
    for item in load_files(store, args.files, args.format, args.deployment, start, shift):
        span = f", {item.first:%Y-%m-%d %H:%M} to {item.last:%Y-%m-%d %H:%M} UTC" if item.first else ""
        print(f"ingest: {item.path}: {item.rows:,} rows into {item.table}{span}")
    return 0
