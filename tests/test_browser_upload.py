"""Real browser: a file uploaded on the Data page of a running `streamlit run` (own store, own
server: the upload changes the data other browser tests read).

The real Azure LLM trace excerpt (tests/data/azure_code_excerpt.csv, see its SOURCE.md: Azure's
2023 code trace, 2023-11-16 18:17-18:20 UTC) is picked in the file chooser; the page offers to
move it to the present, and after "move" the sidebar counts it in the same page, no reload.
Screenshots before and after at 1600x1000 go to screenshots/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import deprecations, streamlit_server
from tests.test_browser import IDLE, ROOT, SHOTS, _open

AZURE = Path(__file__).parent / "data" / "azure_code_excerpt.csv"
SIDEBAR_DATA = '[data-testid="stSidebar"] [data-testid="stCaptionContainer"]:has-text("requests")'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, log) of a server on a small demo store of its own (7 days ending 2026-11-01)."""
    db = tmp_path_factory.mktemp("upload") / "telemetry"
    seed = subprocess.run(
        [sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", "demo", "--days", "7", "--requests",
         "20000", "--end", "2026-11-01T00:00:00Z", "--no-forecasts"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600,
    )
    assert seed.returncode == 0, seed.stderr
    log = tmp_path_factory.mktemp("logs") / "streamlit.log"
    with streamlit_server(db, log) as url:
        yield url, log


def _sidebar(page) -> tuple[str, int]:
    text = page.locator(SIDEBAR_DATA).inner_text()
    found = re.search(r"Data (.+) UTC · ([\d,]+) requests", text)
    return found.group(1), int(found.group(2).replace(",", ""))


def test_an_uploaded_old_trace_moved_to_now_shows_in_the_sidebar_without_a_reload(browser, server):
    url, log = server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        _open(page, f"{url}/Data")
        span, requests = _sidebar(page)
        assert span.endswith("2026-11-01 00:00")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "data_before_upload.png"), full_page=True)
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(AZURE)
        page.locator(".st-key-upload_format input").click()
        page.keyboard.type("azure-llm")  # the select filters its options as one types
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Validate and load").click()
        move = page.get_by_role("button", name=re.compile(r"^Move [\d,]+ days later and load$"))
        move.wait_for(timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        assert "2023-11-16 18:17 to 2023-11-16 18:20 UTC" in page.locator('[data-testid="stAlert"]').first.inner_text()
        page.screenshot(path=str(SHOTS / "data_upload_offer.png"), full_page=True)

        move.click()
        page.get_by_text(re.compile(r"^Loaded 200 rows into requests, moved [\d,]+ days later$")).wait_for(
            timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        assert page.evaluate("window.sameDocument === true")
        assert page.locator('[data-testid="stException"]').count() == 0
        new_span, new_requests = _sidebar(page)
        assert new_requests == requests + 200
        end = datetime.strptime(new_span.split(" → ")[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        assert datetime.now(UTC) - timedelta(days=1) < end <= datetime.now(UTC) + timedelta(minutes=5)
        said = page.get_by_text("New deployments (1): azure_code_excerpt")
        assert said.count() == 1
        said.evaluate("el => el.closest('[data-testid=stMain]').scrollTo(0, 1e6)")  # what changed, in view
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / "data_after_upload.png"), full_page=True)
    finally:
        page.close()
    assert not deprecations(log), "\n".join(deprecations(log))
