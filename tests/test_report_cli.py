"""`python -m analytics report` (analytics.cli.main, in this process on the session's demo store)
writes one self-contained HTML file and a CSV per table; the HTML opens offline in headless Chromium
with every figure drawn (screenshot in screenshots/); a week without data is one line and a
non-zero exit. One test runs the command as a real process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
WEEK = "2026-W43"
TABLES = ("slos", "groups", "incidents", "attribution", "changes", "movers", "gpu", "capacity", "corrections")
FIGURES = 3  # SLO budget, incident timeline, GPU cost


def _report(store_dsn: str, *args: str) -> tuple[int, str, str]:
    """The command in this process on the session's store: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--dsn", store_dsn, "report", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def exported(store, store_dsn, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    code, stdout, stderr = _report(store_dsn, "--week", WEEK, "--out", str(out))
    assert code == 0, stderr
    assert stdout.startswith(f"report {WEEK}: 10 files")
    return out


def test_the_report_writes_one_html_file_and_a_csv_per_table(exported):
    assert sorted(p.name for p in exported.iterdir()) == sorted([f"review-{WEEK}.html", *(f"{t}.csv" for t in TABLES)])
    for name in TABLES:
        frame = pl.read_csv(exported / f"{name}.csv", try_parse_dates=True)
        assert frame.width > 1, name
    incidents = pl.read_csv(exported / "incidents.csv")
    assert incidents.height >= 1 and incidents["incident_key"].str.contains("@").all()
    html = (exported / f"review-{WEEK}.html").read_text()
    # self-contained: plotly.js is inline once, nothing is fetched from the network
    assert html.count("* plotly.js v") == 1
    assert 'src="http' not in html  # no external script (the browser test also runs offline)
    assert "@media print" in html


def test_a_week_without_data_exits_non_zero_with_one_line(store, store_dsn, tmp_path):
    code, _, stderr = _report(store_dsn, "--week", "2025-W01", "--out", str(tmp_path / "empty"))
    assert code != 0
    assert stderr.strip().count("\n") == 0 and "2025-W01: no request data" in stderr
    assert not (tmp_path / "empty").exists()  # nothing partial is written


def test_a_malformed_week_exits_non_zero_with_one_line_from_a_real_process(tmp_path):
    env = dict(os.environ, CLICKHOUSE_URL=f"chdb://{tmp_path / 'db'}")
    done = subprocess.run([sys.executable, "-m", "analytics", "report", "--week", "2026-43", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stderr.strip() == (
        "error: week: expected an ISO week such as 2026-W43, got '2026-43'")


def test_the_exported_html_renders_every_chart_offline_in_chromium(browser, exported):
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, offline=True)
    page = context.new_page()
    try:
        page.goto((exported / f"review-{WEEK}.html").as_uri())
        page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {FIGURES}",
                               timeout=60_000)
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == FIGURES
        # each figure drew its own SVG with data in it (bars or lines), not an empty frame
        for i in range(FIGURES):
            assert plots.nth(i).locator(".main-svg").count() >= 1
            assert plots.nth(i).locator("g.trace").count() >= 1, i
        assert page.locator("table").count() == len(TABLES)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "weekly_report_export.png"), full_page=True)
        pdf = page.pdf() if hasattr(page, "pdf") else b""
        assert pdf[:4] in (b"%PDF", b"")  # printable: Chromium prints it to PDF
    finally:
        context.close()
