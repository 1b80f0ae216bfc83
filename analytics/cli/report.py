"""`python -m analytics report --week YYYY-Www --out DIR`: the weekly reliability review as one
self-contained HTML file (figures embedded, readable offline, printable) and a CSV per table."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from analytics.capacity import cache as capacity_cache
from analytics.errors import InputError
from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.review import weekly as review_weekly
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.groups import label_keys
from analytics.store import queries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the report command."""
    parser.add_argument("--week", help="ISO week, e.g. 2026-W43 (default: the last complete week of the data)")
    parser.add_argument("--out", required=True, help="folder to write the HTML file and the CSVs into")
    parser.add_argument("--slos", default=str(PROJECT_SLO_FILE), metavar="FILE",
                        help="SLO file (default: the project's slos.yaml)")
    parser.add_argument("--group-by", metavar="LABEL",
                        help="roll the SLOs up by this label in the 'By <label>' table (default: the first label "
                        "key of the SLO file, alphabetically; no table when the SLOs carry no labels)")
    parser.add_argument("--no-cache", action="store_true",
                        help="ignore cached Prophet fits: the capacity outlook uses the seasonal-naive forecast")


def output_folder(text: str) -> Path:
    """The --out folder, refused before the report is built when it cannot be one: an existing
    file or device (/dev/null) is not overwritten, since the report is several files."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {text}: exists and is not a folder (the report writes an HTML file and a CSV "
                         "per table into a folder; give a new or existing folder)")
    nearest = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not nearest.is_dir() or not os.access(nearest, os.W_OK | os.X_OK):
        raise InputError(f"--out {text}: cannot write the report there ({nearest} is not a folder this user can write)")
    return out


def run(args, store) -> int:
    """Build the week's review and write the bundle; InputError (exit 2, one line) without data."""
    t0 = time.perf_counter()
    out = output_folder(args.out)
    week = args.week
    if not week:
        span = queries.data_range(store)
        if span is None:
            raise InputError("report: the store holds no request data")
        week = review_weekly.last_complete_week(span[1])
    slos = load_slos(args.slos)
    review_weekly.group_key(label_keys(slos), args.group_by)  # a label no SLO has: refused before the work
    report = review_pipeline.report(store, slos, week, None if args.no_cache else capacity_cache.DEFAULT_CACHE_DIR,
                                    group_by=args.group_by)
    try:
        paths = review_report.write(report, out)
    except OSError as exc:  # a folder that cannot be made or written (read-only, under a file, in /proc)
        raise InputError(f"--out {args.out}: cannot write the report there ({exc.strerror or exc})") from exc
    print(f"report {report.week}: {len(paths)} files in {args.out} ({time.perf_counter() - t0:.1f} s)")
    for path in paths:
        print(f"  {path}")
    return 0
