"""Real browser: page choices come from the link and go back into it, and the what-if sliders
answer the keyboard at once (a focused slider, ArrowRight, no other widget touched).

A `streamlit run` of its own on its own seeded database, opened in headless Chromium.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import seed_browser_demo, streamlit_server
from tests.test_browser import IDLE, SETTLED

METRICS = '[data-testid="stMetricValue"]'


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A seeded database of its own and a `streamlit run` on a free port, stopped afterwards."""
    db = seed_browser_demo(tmp_path_factory.mktemp("controls"))
    with streamlit_server(db, tmp_path_factory.mktemp("logs") / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(browser):
    opened = browser.new_page(viewport={"width": 1600, "height": 1000})
    yield opened
    opened.close()


def _open(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=180_000, state="attached")
    page.wait_for_selector(ready, timeout=180_000, state="attached")
    page.wait_for_selector(IDLE, timeout=180_000, state="attached")
    page.wait_for_function(SETTLED, timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _wait_for_param(page, name: str, value: str) -> None:
    page.wait_for_function("([n, v]) => new URLSearchParams(window.location.search).get(n) === v",
                           arg=[name, value], timeout=60_000)


def test_a_what_if_link_opens_with_its_choices_applied(page, app_url):
    _open(page, f"{app_url}/What_if?range=28d&slo=chat-llama3-8b-use-ttft&target=99.93&threshold=630", METRICS)
    assert page.locator(".st-key-whatif_slo input").input_value() == "chat-llama3-8b-use-ttft"
    assert page.locator(".st-key-whatif_target_exact input").input_value() == "99.9300"
    assert page.locator(".st-key-whatif_target input[type=range]").get_attribute("aria-valuetext") == "99.92%"
    assert page.locator(".st-key-whatif_threshold_exact input").input_value() == "630.0"
    assert "threshold 630 ms lies between edges 600 and 800 ms" in page.locator('[data-testid="stAlert"]').first.inner_text()
    assert page.get_by_text("99.93% over 28d").count() == 1  # the proposal uses the typed target
    query = _query(page)
    assert query["range"] == ["28d"] and query["slo"] == ["chat-llama3-8b-use-ttft"]


def test_a_changed_choice_lands_in_the_link_beside_the_filters(page, app_url):
    _open(page, f"{app_url}/What_if?range=28d&slo=fleet-availability", METRICS)
    page.locator(".st-key-whatif_window").click()
    page.get_by_role("option", name="7d", exact=True).click()
    _wait_for_param(page, "window", "7d")
    query = _query(page)
    assert query["range"] == ["28d"] and query["slo"] == ["fleet-availability"]
    _open(page, f"{app_url}/SLOs?range=28d&slo=eu-west-availability", ".st-key-slo_detail")
    assert page.locator(".st-key-slo_detail input").input_value() == "eu-west-availability"


def test_arrow_right_on_the_target_slider_changes_the_numbers_at_once(page, app_url):
    _open(page, f"{app_url}/What_if?range=28d&slo=fleet-availability", METRICS)
    values = page.locator(METRICS)  # current: attainment, budget left, pages, tickets; then proposed
    slider = page.locator(".st-key-whatif_target input[type=range]")
    before, stop = values.nth(5).inner_text(), slider.get_attribute("aria-valuetext")
    slider.focus()
    page.keyboard.press("ArrowRight")  # one stop up the nines scale; nothing else is touched
    page.wait_for_function(
        "(before) => document.querySelectorAll('[data-testid=stMetricValue]')[5].innerText !== before",
        arg=before, timeout=60_000)
    page.wait_for_selector(IDLE, timeout=180_000, state="attached")
    moved = slider.get_attribute("aria-valuetext")
    assert moved != stop
    assert page.locator(".st-key-whatif_target_exact input").input_value().rstrip("0").rstrip(".") \
        == moved.rstrip("%")  # the exact value follows the slider
    _wait_for_param(page, "target", moved.rstrip("%"))
    assert page.locator('[data-testid="stException"]').count() == 0


def test_choices_survive_a_visit_to_another_page(page, app_url):
    """Streamlit drops a page's widget state when another page runs: the time range came back as
    'Last 24 hours' and the what-if target as its default after going through the sidebar links."""
    _open(page, f"{app_url}/What_if?range=28d&slo=fleet-availability&target=99.6", METRICS)
    page.get_by_role("link", name="SLOs", exact=True).click()
    page.wait_for_selector(".st-key-slo_detail", timeout=180_000, state="attached")
    page.wait_for_selector(IDLE, timeout=180_000, state="attached")
    assert _query(page)["range"] == ["28d"]
    page.get_by_role("link", name="What if", exact=True).click()
    page.wait_for_selector(".st-key-whatif_target_exact", timeout=180_000, state="attached")
    page.wait_for_selector(IDLE, timeout=180_000, state="attached")
    assert page.locator(".st-key-whatif_target_exact input").input_value() == "99.6000"
    query = _query(page)  # the link is written from the widgets' values
    assert query["range"] == ["28d"] and query["target"] == ["99.6"] and query["slo"] == ["fleet-availability"]
