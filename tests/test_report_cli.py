"""`python -m analytics report` as a user runs it: a real process on a store of its own writes one
self-contained HTML file and a CSV per table; the HTML opens offline in headless Chromium with every
figure drawn (screenshot in screenshots/); a week without data is one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
WEEK = "2026-W43"
TABLES = ("slos", "incidents", "attribution", "changes", "movers", "gpu", "capacity")
FIGURES = 3  # SLO budget, incident timeline, GPU cost


def _cli(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "analytics", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A seeded demo store of this module's own (chDB: one path per process)."""
    db = tmp_path_factory.mktemp("report-cli") / "telemetry"
    env = dict(os.environ, CLICKHOUSE_URL=f"chdb://{db}")
    seeded = _cli(env, "demo", "--days", "21", "--requests", "200000", "--end", "2026-11-01T00:00:00Z",
                  "--scrape-seconds", "300", "--no-forecasts")
    assert seeded.returncode == 0, seeded.stderr
    return env


@pytest.fixture(scope="module")
def exported(cli_env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    done = _cli(cli_env, "report", "--week", WEEK, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"report {WEEK}: 8 files")
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


def test_a_week_without_data_exits_non_zero_with_one_line(cli_env, tmp_path):
    done = _cli(cli_env, "report", "--week", "2025-W01", "--out", str(tmp_path / "empty"))
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "2025-W01: no request data" in done.stderr
    assert not (tmp_path / "empty").exists()  # nothing partial is written


def test_a_malformed_week_exits_non_zero_with_one_line(cli_env, tmp_path):
    done = _cli(cli_env, "report", "--week", "2026-43", "--out", str(tmp_path))
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
