"""AppTest for the Weekly review page against the demo store: week from the URL, every table with
its CSV, the bundle download, and a note added through the page's form that persists."""

from __future__ import annotations

import io
import uuid
import zipfile

import polars as pl
import pytest

from analytics.store import review as store_review
from tests.conftest import run_page
from ui import review
from ui import slo as slo_ui

PAGE = "pages/5_Weekly_review.py"
WEEK = "2026-W43"


@pytest.fixture(scope="module")
def page(store):
    at = run_page(PAGE, week=WEEK)
    assert not at.exception, [e.message for e in at.exception]
    return at


def _csv_tables(at) -> dict[str, object]:
    """Each show_table dataframe by its download label (the bundle's zip button comes first)."""
    labels = [b.label for b in at.get("download_button") if b.label.endswith("(CSV)")]
    return dict(zip(labels, at.dataframe, strict=True))


def test_an_older_week_from_the_url_is_shown_and_kept_in_the_url(store):
    at = run_page(PAGE, week="2026-W42")
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox[0].value == "2026-W42" and at.query_params["week"] in ("2026-W42", ["2026-W42"])
    assert at.markdown[0].value.replace("\\", "").startswith("Week 2026-W42:")


def test_the_week_comes_from_the_url_and_every_section_is_shown(page):
    assert page.selectbox[0].value == WEEK
    assert page.query_params["week"] == [WEEK] or page.query_params["week"] == WEEK
    assert "Week 2026-W43: 2 incidents (2 paging" in page.markdown[0].value.replace("\\", "")
    assert len(page.get("plotly_chart")) == 3
    labels = list(_csv_tables(page))
    assert labels == ["Download SLOs this week (CSV)", "Download By service (CSV)", "Download Incidents this week (CSV)",
                      "Download Attribution (CSV)", "Download Changes this week (CSV)",
                      "Download Latency and error movers (CSV)", "Download GPU cost (CSV)",
                      "Download Capacity outlook (CSV)", "Download Budget corrections this week (CSV)"]
    assert page.get("download_button")[0].label == f"Download the review of {WEEK} (HTML + CSVs, zip)"


def test_the_default_week_is_the_last_complete_week(store):
    at = run_page(PAGE)
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox[0].value == WEEK


@pytest.mark.parametrize("week", ["1999-W52", "W43", "<b>"], ids=["no data", "malformed", "markup"])
def test_a_week_from_the_url_without_data_falls_back_to_the_last_complete_week(store, week):
    # 1999: before any time ingest accepts, so no other test module can have put data there
    at = run_page(PAGE, week=week)
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox[0].value == WEEK
    assert at.warning[0].value.startswith("Ignored week=")
    assert at.warning[0].value.endswith(f"in the link: no data in that week; showing {WEEK}.")


def test_a_note_added_on_the_page_persists_in_the_store_and_after_a_restart(store, page):
    incidents = _csv_tables(page)["Download Incidents this week (CSV)"].value
    key = incidents["incident_key"].iloc[0]
    note = f"check the rollout *{uuid.uuid4().hex[:8]}* <script>x</script>"
    page.text_area(key=f"note_text_{key}").input(note)
    page.text_input(key=f"note_owner_{key}").input("sre-oncall")
    form_buttons = [b for b in page.button if b.label == "Save note"]
    form_buttons[0].click().run()
    assert not page.exception, [e.message for e in page.exception]
    stored = store_review.read_notes(store, [key]).row(0, named=True)
    assert (stored["note"], stored["owner"]) == (note, "sre-oncall")
    fresh = run_page(PAGE, week=WEEK)  # a new session: nothing cached in session state
    assert not fresh.exception
    shown = _csv_tables(fresh)["Download Incidents this week (CSV)"].value
    row = shown[shown["incident_key"] == key].iloc[0]
    assert (row["note"], row["owner"]) == (note, "sre-oncall")
    # rendered as text: the markdown shows the escaped characters, never a live tag or emphasis
    notes = [m.value for m in fresh.markdown if "sre" in m.value and "Note" in m.value]
    assert notes and "<script>" not in notes[0] and "\\*" in notes[0]


def test_the_zip_holds_the_html_and_a_csv_per_table(page):
    # AppTest's download buttons expose no bytes: the same cached loader the button reads
    data = review.bundle_zip(WEEK, slo_ui.config())
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"review-{WEEK}/review-{WEEK}.html" in names
    assert sum(n.endswith(".csv") for n in names) == 9
    slos = pl.read_csv(zipfile.ZipFile(io.BytesIO(data)).read(f"review-{WEEK}/slos.csv"))
    shown = _csv_tables(page)["Download SLOs this week (CSV)"].value
    assert slos["slo"].to_list() == shown["slo"].to_list()


def test_the_slos_roll_up_by_the_label_chosen_on_the_page(page):
    by_service = _csv_tables(page)["Download By service (CSV)"].value
    assert "assistant" in by_service["group"].to_list()
    page.selectbox(key="review_group_by").select("team").run()
    assert not page.exception, [e.message for e in page.exception]
    by_team = _csv_tables(page)["Download By team (CSV)"].value
    assert {"chat", "platform"} <= set(by_team["group"])
    assert by_team["slo_count"].sum() == len(slo_ui.parse(*slo_ui.config()))  # every SLO in one group
    assert page.query_params["by"] in ("team", ["team"])
