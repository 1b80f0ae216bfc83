"""Real browser: every page of a running server (`python -m ui.serve`: `streamlit run`, warmed), opened
by URL in headless Chromium.

Each page must finish its script with no exception element, and the server log must hold no
deprecation notice once every page was opened (the server shows every DeprecationWarning); the
Overview's time-range filter is moved through the UI and must land in the URL; pages with sliders
get one moved. Screenshots are saved to screenshots/ for people to look at.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import deprecations, seed_browser_demo, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Elements of an earlier run still on screen while a rerun draws its own (Streamlit marks them stale).
SETTLED = "() => !document.querySelector('[data-stale=\"true\"]')"


def _page_urls() -> list[tuple[str, str]]:
    pages = [("overview", "")]
    for path in sorted((ROOT / "pages").glob("*.py"), key=lambda p: int(p.name.split("_")[0])):
        name = path.stem.split("_", 1)[1]
        pages.append((name.lower(), name))
    return pages


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    """The streamlit server's output."""
    return tmp_path_factory.mktemp("logs") / "streamlit.log"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, server_log):
    """A seeded database of its own and a `streamlit run` on a free port, stopped afterwards."""
    db = seed_browser_demo(tmp_path_factory.mktemp("browser"))
    with streamlit_server(db, server_log) as url:
        yield url


def _open(page, url: str):
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=180_000)
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    page.wait_for_function(SETTLED, timeout=60_000)
    # Let plotly draw before the screenshot: every chart on the page has its SVG.
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".every(chart => chart.querySelector('.main-svg'))", timeout=60_000)
    page.wait_for_timeout(300)


def _kpis(page) -> dict[str, str]:
    """The Overview's eight headline numbers by label, once all eight are drawn."""
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length == 8",
                           timeout=60_000)
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return dict(zip([label.strip() for label in labels], values, strict=True))


@pytest.mark.parametrize(("name", "path"), _page_urls(), ids=[n for n, _ in _page_urls()])
def test_every_page_renders_without_an_exception(browser, app_url, name, path):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        _open(page, f"{app_url}/{path}")
        assert page.locator('[data-testid="stException"]').count() == 0
        sliders = page.locator('[data-testid="stSlider"] input[type=range]')
        if sliders.count():
            sliders.first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(300)
            page.wait_for_selector(IDLE, timeout=180_000)
            assert page.locator('[data-testid="stException"]').count() == 0
        # The script state can flip to idle before the last elements arrive: wait for content itself.
        page.wait_for_selector(".js-plotly-plot, [data-testid='stDataFrame']", timeout=60_000)
        assert page.locator(".js-plotly-plot, [data-testid='stDataFrame']").count() > 0
        page.wait_for_selector(IDLE, timeout=180_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    finally:
        page.close()


def test_moving_the_time_range_filter_updates_the_view_and_the_link(browser, app_url):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        _open(page, app_url)
        before = _kpis(page)
        page.locator(".st-key-filter_range").click()
        page.get_by_role("option", name="Last 24 hours").click()
        page.wait_for_function("() => window.location.search.includes('range=24h')", timeout=60_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        page.wait_for_timeout(500)
        assert page.locator('[data-testid="stException"]').count() == 0
        after = _kpis(page)
        assert after["Requests/s"] != before["Requests/s"]
        # The link reproduces the view in a fresh tab.
        copy = browser.new_page()
        _open(copy, page.url)
        assert _kpis(copy) == after
        copy.close()
    finally:
        page.close()


def test_moving_the_what_if_target_slider_changes_the_proposed_budget(browser, app_url):
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    try:
        _open(page, f"{app_url}/What_if")
        values = page.locator('[data-testid="stMetricValue"]')
        # Metrics: current attainment, budget left, pages, tickets; then the same for the proposal.
        before = values.nth(5).inner_text()
        slider = page.locator('.st-key-whatif_target input[type=range]')
        slider.focus()
        for _ in range(10):  # +0.10 percentage points of target
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(500)
        page.wait_for_selector(IDLE, timeout=180_000)
        page.wait_for_function(
            "(before) => document.querySelectorAll('[data-testid=stMetricValue]')[5].innerText !== before",
            arg=before, timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert values.nth(1).inner_text() != values.nth(5).inner_text()  # current vs proposed differ
        page.screenshot(path=str(SHOTS / "what_if_moved.png"), full_page=True)
    finally:
        page.close()


def test_the_server_log_holds_no_deprecation_warning_after_every_page(browser, app_url, server_log):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        for _, path in _page_urls():
            _open(page, f"{app_url}/{path}")
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.close()
    assert not deprecations(server_log), "\n".join(deprecations(server_log))


def test_the_server_warms_the_pages_data_from_its_start_without_an_error(app_url, server_log):
    # ui.serve (the launcher `make run` and the bench use) loads the Overview's data, then the other
    # pages' heaviest, in the background from the server's start (ui.warmup) and logs how it went.
    for _ in range(600):
        if "warm-up: done" in server_log.read_text() or "warm-up stopped" in server_log.read_text():
            break
        time.sleep(0.5)
    log = server_log.read_text()
    assert "warm-up: Overview ready" in log and "warm-up: done" in log, log[-2000:]
    assert "warm-up stopped" not in log
    assert "missing ScriptRunContext" not in log  # the loaders ran outside a page: not warned about
