"""The fast tier's one real-browser test: every page of a running server (`python -m ui.serve`, as
`make run`), opened by URL in headless Chromium, finishes its script with no exception element and
shows its main content: its title and at least one chart or table. The full browser suite
(tests/test_browser*.py: interactions, uploads, the server log) runs in `make test-all`.
"""

from __future__ import annotations

import pytest

from analytics.cli.bench.browser import pages
from tests.conftest import seed_browser_demo, streamlit_server
from tests.test_browser import IDLE, SETTLED

pytestmark = pytest.mark.smoke
CONTENT = ".js-plotly-plot, [data-testid='stDataFrame']"


@pytest.fixture(scope="module")
def smoke_url(tmp_path_factory):
    """A small seeded store of its own (21 days, 50k requests) and a server on a free port."""
    folder = tmp_path_factory.mktemp("smoke")
    db = seed_browser_demo(folder, requests=50_000)
    with streamlit_server(db, folder / "streamlit.log") as url:
        yield url


def test_every_page_opens_in_a_browser_with_its_title_and_content_and_no_exception(browser, smoke_url):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        for title, path in pages():
            page.goto(f"{smoke_url}/{path}")
            page.wait_for_selector(IDLE, timeout=180_000)
            page.wait_for_selector("h1", timeout=60_000)
            page.wait_for_selector(CONTENT, timeout=60_000)  # the script can go idle before its last elements
            page.wait_for_selector(IDLE, timeout=180_000)
            page.wait_for_function(SETTLED, timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, title
            assert page.locator("h1").first.inner_text().strip(), f"{title} has no title"
            assert page.locator(CONTENT).count() > 0, f"{title} shows no chart or table"
    finally:
        page.close()
