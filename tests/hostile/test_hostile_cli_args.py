"""Hostile command-line arguments: times at the ends of the calendar, histories of a billion days,
a report written onto a file or a device, an endless SLO file, a demo before the year 2000. Each is
refused with exit code 2 and ONE line on stderr naming the argument, before anything is written.

The limits: analytics.times.TS_EARLIEST .. now + TS_AHEAD for every time typed (the ingest's rule),
analytics.cli.forecast.MAX_HISTORY_DAYS, analytics.ingest.demo.generator.MAX_DAYS and
analytics.slo.files.MAX_FILE_BYTES (read as bytes, whatever stat() says).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from analytics.cli.forecast import MAX_HISTORY_DAYS
from analytics.cli.main import main
from analytics.ingest.demo.generator import MAX_DAYS
from analytics.slo.files import MAX_FILE_BYTES
from tests.conftest import ROOT

PLAUSIBLE = "is outside the plausible range 2000-01-01 .. now + 1 day"


def _one_error_line(capsys, code: int) -> str:
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert out == ""
    return lines[0]


@pytest.mark.parametrize("argv, said", [
    (["slo", "--at", "9999-12-31T23:59:59"], f"error: --at: 9999-12-31 23:59 UTC {PLAUSIBLE}"),
    (["slo", "--at", "0001-01-01T00:00:00+01:00"], f"error: --at: '0001-01-01T00:00:00+01:00' {PLAUSIBLE}"),
    (["forecast", "--days", "1000000000"],
     f"error: --days must be at most {MAX_HISTORY_DAYS} (three years of history), got 1000000000"),
], ids=["slo at the last second of year 9999", "slo at year 1 in another zone", "forecast on a billion days"])
def test_an_argument_past_what_the_calendar_or_the_history_holds_is_one_line(store, store_dsn, capsys, argv, said):
    assert _one_error_line(capsys, main(["--dsn", store_dsn, *argv])) == said


def test_a_report_for_week_52_of_year_9999_is_one_line_and_writes_nothing(store, store_dsn, capsys, tmp_path):
    out = tmp_path / "report"
    line = _one_error_line(capsys, main(["--dsn", store_dsn, "report", "--week", "9999-W52", "--out", str(out)]))
    assert line == f"error: week 9999-W52: 9999-12-27 00:00 UTC {PLAUSIBLE}"
    assert not out.exists()


@pytest.mark.parametrize("target, said", [
    ("a file", "exists and is not a folder"),
    ("/dev/null", "exists and is not a folder"),
    ("a folder under a file", "cannot write the report there"),
], ids=["an existing file", "/dev/null", "a path under a file"])
def test_a_report_out_that_cannot_be_a_folder_is_one_line_and_leaves_it_as_it_was(store, store_dsn, capsys, tmp_path,
                                                                                target, said):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    out = {"a file": str(existing), "/dev/null": "/dev/null", "a folder under a file": str(existing / "report")}[target]
    line = _one_error_line(capsys, main(["--dsn", store_dsn, "report", "--out", out]))
    assert line.startswith(f"error: --out {out}: {said}")
    assert existing.read_text() == "keep me"


def _cli(tmp_path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The command as a process on a fresh embedded store, in at most 3 GiB of address space (an
    unbounded read fails there with MemoryError instead of taking the machine)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    env = {k: v for k, v in os.environ.items() if k != "CLICKHOUSE_URL"}
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{tmp_path}/db", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, preexec_fn=limit)


def test_an_endless_slo_file_is_read_up_to_the_limit_and_refused(tmp_path):
    done = _cli(tmp_path, "slo", "--config", "/dev/zero")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == f"error: /dev/zero: over the SLO file limit of {MAX_FILE_BYTES} bytes"


@pytest.mark.parametrize("args, said", [
    (["--end", "1900-01-01"], f"error: --end: 1900-01-01 00:00 UTC {PLAUSIBLE}"),
    (["--end", "2000-01-10"], f"error: demo: the start (35 days before the end): 1999-12-06 00:00 UTC {PLAUSIBLE}"),
    (["--days", "100000"], f"error: demo: at most {MAX_DAYS} days of history, got 100000"),
], ids=["ending in 1900", "starting in 1999", "100000 days"])
def test_a_demo_outside_the_time_rule_or_too_long_is_refused_before_anything_is_written(tmp_path, args, said):
    done = _cli(tmp_path, "demo", "--no-forecasts", *args)
    assert done.returncode == 2 and done.stderr.strip() == said, done.stderr[-2000:]
    assert done.stdout == ""
