"""Real browser: one number reads the same in every view. The SLOs page's table (a canvas grid that
Streamlit fills) shows the same text as the selected SLO's metric card and as `slo --json`'s value
written by the column registry (analytics.columns.text), for a value just above a rounding boundary.

The grid draws on a canvas; its search box matches the text a cell shows (not its value), so a
search for the card's text finds the cell that reads the same.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from analytics import columns
from tests.conftest import ROOT, seed_browser_demo, streamlit_server
from tests.test_browser import IDLE, SETTLED

METRIC = '[data-testid="stMetric"]'
SEARCH_STATUS = ".gdg-search-status"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """(the app's URL, `slo --json` on the same store): the CLI reads the store before the server
    opens it (one embedded store per process)."""
    db = seed_browser_demo(tmp_path_factory.mktemp("rounding"))
    cli = subprocess.run([sys.executable, "-m", "analytics", "slo", "--json"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, CLICKHOUSE_URL=f"chdb://{db}"), timeout=600)
    assert cli.returncode == 0, cli.stderr
    with streamlit_server(db, tmp_path_factory.mktemp("logs") / "streamlit.log") as url:
        yield url, json.loads(cli.stdout)


def _cut(value: float, decimals: int) -> float:
    """What a Streamlit number column did with an unrounded value: cut it to the decimals shown."""
    return math.trunc(value * 10 ** decimals) / 10 ** decimals


def test_the_slo_tables_budget_left_cell_reads_what_the_detail_card_and_the_cli_write(browser, seeded):
    url, slos = seeded
    decimals = columns.column("budget_remaining").decimals + 2  # a fraction shown in percent
    # an SLO whose budget left sits just above a rounding boundary: cut and rounded read differently
    near = next(s for s in slos if s["budget_remaining"] is not None and s["budget_remaining"] > 0
                and _cut(s["budget_remaining"], decimals) != float(columns.rounded(s["budget_remaining"], decimals)))
    written = columns.text("budget_remaining", near["budget_remaining"])  # what `slo` prints and the report writes
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(f"{url}/SLOs?slo={near['name']}")
        page.wait_for_selector(IDLE, timeout=180_000, state="attached")
        page.wait_for_selector(METRIC, timeout=180_000)
        page.wait_for_selector(IDLE, timeout=180_000, state="attached")
        page.wait_for_function(SETTLED, timeout=60_000)
        card = page.locator(METRIC).filter(has_text=columns.card_label("budget_remaining")).first
        assert card.locator('[data-testid="stMetricValue"]').inner_text() == written
        table = page.locator('[data-testid="stDataFrame"]').first
        table.hover()
        table.get_by_role("button", name="Search").click()
        page.keyboard.type(written)
        page.wait_for_function(f"() => document.querySelector('{SEARCH_STATUS}')?.textContent.includes('result')",
                               timeout=30_000)
        assert page.locator(SEARCH_STATUS).inner_text() != "0 results", \
            f"no cell of the SLO table reads {written} ({near['name']}: {near['budget_remaining']})"
    finally:
        page.close()
