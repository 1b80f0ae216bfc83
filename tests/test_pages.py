"""AppTest for the Overview and Data pages: they render from the demo store and obey the filters."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import run_page


def _param(at: AppTest, name: str) -> list[str]:
    value = at.query_params[name]
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture
def overview(store) -> AppTest:
    at = run_page("app.py")
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_overview_shows_fleet_kpis_and_every_deployment(overview):
    labels = [m.label for m in overview.metric]
    assert labels[:3] == ["Requests/s", "Error rate", "TTFT p50"]
    assert all(m.value not in ("", "–") for m in overview.metric)
    table = overview.dataframe[-1].value
    assert len(table) >= 14


def test_choosing_a_deployment_narrows_the_table_and_the_url(overview):
    overview.sidebar.multiselect(key="filter_deployments").set_value(["code-qwen-7b-euw"]).run()
    assert not overview.exception
    assert list(overview.dataframe[-1].value["deployment"]) == ["code-qwen-7b-euw"]
    assert _param(overview, "dep") == ["code-qwen-7b-euw"]


def test_changing_the_time_range_changes_the_numbers(overview):
    before = overview.metric[0].value
    overview.sidebar.selectbox(key="filter_range").set_value("24h").run()
    assert not overview.exception
    assert _param(overview, "range") == ["24h"]
    assert overview.metric[0].value != before


def test_a_copied_link_reproduces_the_view(store):
    at = run_page("app.py", range="28d", region="eu-west")
    assert not at.exception
    assert at.sidebar.selectbox(key="filter_range").value == "28d"
    assert at.sidebar.multiselect(key="filter_regions").value == ["eu-west"]
    deployments = set(at.dataframe[-1].value["deployment"])
    assert deployments and all(d.endswith("-euw") for d in deployments)


def test_a_hostile_deployment_in_the_url_is_ignored_not_executed(store):
    at = run_page("app.py", dep="x' OR 1=1 --")
    assert not at.exception
    assert at.sidebar.multiselect(key="filter_deployments").value == []


def test_the_data_page_lists_tables_freshness_and_offers_upload(store):
    at = run_page("pages/9_Data.py")
    assert not at.exception, [e.message for e in at.exception]
    tables = at.dataframe[0].value
    assert {"requests", "requests_5m", "gpu_metrics", "gpu_metrics_1h", "deployments"} <= set(tables["table"])
    assert len(at.dataframe[1].value) >= 14
    assert at.button  # the form's submit button


def test_an_unreachable_database_gives_a_clear_message_not_a_traceback(store, monkeypatch):
    import socket

    import streamlit as st

    sock = socket.socket()  # bound, not listening: refused, and the port stays ours
    sock.bind(("127.0.0.1", 0))
    monkeypatch.setenv("CLICKHOUSE_URL", f"http://default@127.0.0.1:{sock.getsockname()[1]}/default")
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = run_page("app.py")
        assert not at.exception, [e.message for e in at.exception]
        assert "connection refused" in at.error[0].value
        assert "CLICKHOUSE_URL" in at.info[0].value
    finally:
        sock.close()
        st.cache_resource.clear()
        st.cache_data.clear()


def test_custom_dates_limit_the_range_to_whole_utc_days(store):
    at = run_page("app.py", range="custom", **{"from": "2026-10-20", "to": "2026-10-21"})
    assert not at.exception, [e.message for e in at.exception]
    assert any("2026-10-20 00:00 → 2026-10-22 00:00 UTC" in c.value for c in at.caption)
