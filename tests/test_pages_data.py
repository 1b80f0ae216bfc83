"""AppTest for uploads on the Data page, with the real Azure LLM trace excerpt (tests/data,
see its SOURCE.md: the first 200 requests of Azure's 2023 code trace, 2023-11-16 18:17-18:20 UTC).

Each test's loads are rolled back afterwards (analytics.store.journal.rollback, the recovery path),
since the session's demo store is shared with the other test files of this process.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.store import journal, queries
from analytics.store.schema import ROLLUPS
from tests.conftest import run_page

AZURE = Path(__file__).parent / "data" / "azure_code_excerpt.csv"
NAME = "azure_code_excerpt"  # the deployment: the file name, as the form's default says


def _load_ids(store) -> set[str]:
    return set(store.query(f"SELECT DISTINCT load_id FROM {journal.JOURNAL}")["load_id"].to_list())


@pytest.fixture
def data_page(store):
    """The Data page, and afterwards every load the test made rolled back."""
    before = _load_ids(store)
    st.cache_data.clear()
    at = run_page("pages/9_Data.py")
    assert not at.exception, [e.message for e in at.exception]
    yield at
    for load_id in _load_ids(store) - before:
        journal.rollback(store, load_id, ROLLUPS)
    st.cache_data.clear()


def _sidebar_requests(at: AppTest) -> tuple[str, int]:
    """(data range text, requests) from the sidebar's caption."""
    caption = next(c.value for c in at.sidebar.caption if c.value.startswith("Data "))
    found = re.match(r"Data (.+) · ([\d,]+) requests", caption)
    return found.group(1), int(found.group(2).replace(",", ""))


def _table_rows(at: AppTest, table: str) -> int:
    stats = at.dataframe[0].value
    return int(stats.loc[stats["table"] == table, "rows"].iloc[0])


def _upload(at: AppTest, path: Path = AZURE, fmt: str = "azure-llm") -> AppTest:
    at.file_uploader[0].set_value((path.name, path.read_bytes(), "text/csv"))
    at.selectbox(key="upload_format").set_value(fmt)
    at.button[0].click().run()  # the form's "Validate and load"
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_an_old_trace_is_offered_the_move_and_nothing_is_written_before_the_answer(data_page, store):
    requests, loads = _sidebar_requests(data_page)[1], _load_ids(store)
    _upload(data_page)
    offer = data_page.warning[0].value
    assert "2023-11-16 18:17 to 2023-11-16 18:20 UTC" in offer
    assert data_page.button(key="upload_shift").label.startswith("Move ")
    assert _sidebar_requests(data_page)[1] == requests
    assert _load_ids(store) == loads  # nothing stored yet, not even a load begun


def test_after_an_upload_the_sidebar_and_the_tables_count_the_new_rows_without_a_reload(data_page):
    span, requests = _sidebar_requests(data_page)
    rows = _table_rows(data_page, "requests")
    _upload(data_page).button(key="upload_as_recorded").click().run()
    assert not data_page.exception, [e.message for e in data_page.exception]
    new_span, new_requests = _sidebar_requests(data_page)
    assert new_requests == requests + 200
    assert new_span.startswith("2023-11-16 18:15") and new_span != span
    assert _table_rows(data_page, "requests") == rows + 200
    assert NAME in set(data_page.dataframe[1].value["deployment"])  # freshness per deployment
    assert data_page.success[0].value == "Loaded 200 rows into requests"
    said = data_page.markdown[0].value
    assert f"New deployments (1): {NAME}".replace("_", "\\_") in said
    assert "2023-11-16 18:17 to 2023-11-16 18:20 UTC" in said
    # The next page reads the new data too: the cache was dropped, not only this page's loaders.
    data_page.switch_page("app.py").run()
    assert not data_page.exception
    assert _sidebar_requests(data_page)[1] == requests + 200


def test_accepting_the_move_lands_the_trace_ending_in_the_last_day_at_its_hours(data_page, store):
    _upload(data_page).button(key="upload_shift").click().run()
    assert not data_page.exception, [e.message for e in data_page.exception]
    now = datetime.now(UTC)
    fresh = queries.freshness(store).filter(deployment=NAME).row(0, named=True)
    first, last = fresh["first_ts"].replace(tzinfo=UTC), fresh["last_ts"].replace(tzinfo=UTC)
    assert now - timedelta(days=1, minutes=5) < last <= now
    assert (first.hour, first.minute) == (18, 15)  # the 5-minute slot of 18:17: hours of day kept
    assert data_page.success[0].value.startswith("Loaded 200 rows into requests, moved ")
    span, _ = _sidebar_requests(data_page)
    assert span.endswith(f"{(last + timedelta(minutes=5)):%Y-%m-%d %H:%M} UTC")
    assert not data_page.info  # the default range (last 7 days of the data) shows it


def test_data_hidden_by_the_time_range_is_located_and_one_click_shows_it(data_page):
    _upload(data_page).button(key="upload_as_recorded").click().run()
    note = data_page.info[0].value
    assert "The new rows span 2023-11-16 18:17 to 2023-11-16 18:20 UTC" in note
    assert "outside the time range in the sidebar" in note
    data_page.button(key="upload_show_dates").click().run()
    assert not data_page.exception, [e.message for e in data_page.exception]
    assert data_page.sidebar.selectbox(key="filter_range").value == "custom"
    assert data_page.sidebar.date_input(key="filter_dates").value == (date(2023, 11, 16), date(2023, 11, 16))
    assert (data_page.query_params["from"], data_page.query_params["to"]) == ("2023-11-16", "2023-11-16")
    assert not data_page.info  # now in view: the note is gone, what changed stays
    assert data_page.success[0].value == "Loaded 200 rows into requests"


def test_a_bad_upload_names_the_uploaded_file_and_loads_nothing(data_page, store):
    requests = _sidebar_requests(data_page)[1]
    _upload(data_page, fmt="requests")  # an Azure trace has no deployment column
    error = data_page.error[0].value
    assert error.startswith("azure\\_code\\_excerpt.csv") and "deployment" in error
    assert "/tmp" not in error and "<upload>" not in error
    assert _sidebar_requests(data_page)[1] == requests
    assert not data_page.success
