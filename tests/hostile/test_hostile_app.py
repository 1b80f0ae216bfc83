"""Hostile input through the real app (AppTest from app.py, as a browser session runs it): links
with unusable dates, a database that fails after the page connected (500, refused, hang),
an invalid secrets file, uploads with repeated names or markdown in them, and CSV exports of
formula-like names. Each ends in one line on the panel that failed, never an exception."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from analytics.store import client as store_module
from analytics.store import dsn as dsn_module
from analytics.store.client import Store
from tests.conftest import ROOT, run_page
from ui import traffic
from ui.format import LINK_BREAK

FORMULA = '=HYPERLINK("http://127.0.0.1:9/leak","click")'
MARKDOWN_NAME = "![x](pixel.png) $x^2$ :red[alert]"  # an image, LaTeX and a colour (no '/': a file name)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test opens its own connection: Streamlit caches are per process, keyed without the DSN."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_on_standin(standin, monkeypatch):
    """The app pointed at the stand-in server (healthy until a test says otherwise)."""
    monkeypatch.setenv("CLICKHOUSE_URL", standin.dsn)
    return standin


def _plain(markdown: str) -> str:
    """The text a markdown element shows (user data in it is backslash-escaped, and a zero-width
    LINK_BREAK goes into each bare URL: ui.format.text)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(LINK_BREAK, "")


def _errors(at) -> list[str]:
    return [_plain(e.value) for e in at.error] + [_plain(e.value) for e in at.sidebar.error]


def _page_links(at) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


@pytest.mark.parametrize(("query", "said"), [
    ({"from": "xyz", "to": "also-not"}, "not a date"),
    ({"from": "1990-01-01", "to": "2090-01-01"}, "outside the data"),
], ids=["not dates", "dates before and after the data"])
def test_custom_dates_in_a_link_that_cannot_be_used_are_replaced_with_a_warning(store, query, said):
    at = run_page("app.py", range="custom", **query)
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 2 and all(said in w for w in warnings)
    assert at.metric, "the Overview still shows its numbers"


def test_a_chart_query_failing_after_the_page_connected_leaves_the_rest_of_the_overview(app_on_standin):
    at = run_page("app.py")
    assert not at.exception and not _errors(at)
    app_on_standin.mode("500", match="toIntervalSecond")  # the time-series query behind the charts
    at.sidebar.selectbox(key="filter_range").select("28d").run()
    assert not at.exception
    assert _errors(at) == ["Charts: cannot read telemetry: server http://127.0.0.1:"
                           f"{app_on_standin.port}/default: HTTP 500 from the server or a proxy: Internal Server "
                           "Error: upstream failed"]
    assert len(at.metric) == 8 and len(at.dataframe) >= 1, "KPIs and tables still render"


@pytest.mark.parametrize(("page", "match", "panel"), [
    ("app.py", None, "Fleet summary"),
    ("pages/1_SLOs.py", None, "SLO status"),
    ("pages/1_SLOs.py", "uniqExact(g.node, g.gpu)", "Deploy markers"),  # the detail's GPU changes query
    ("pages/9_Data.py", "system.parts", "Tables"),
], ids=["Overview", "SLOs", "SLOs, deploy markers alone", "Data"])
def test_a_server_error_after_the_page_connected_is_one_line_on_the_panel(app_on_standin, page, match, panel):
    at = run_page("app.py")  # connects and caches the data's range, as a first visit does
    assert not at.exception
    from ui import slo as slo_ui

    slo_ui.evaluations.clear()  # the Overview's attention list cached them: expire them, as their TTL would
    slo_ui.status.clear()
    app_on_standin.mode("500", match=match)
    at.sidebar.selectbox(key="filter_range").select("28d")
    at.switch_page(page).run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith(f"{panel}: cannot read telemetry:") and "HTTP 500" in errors[0]
    assert "Overview" in _page_links(at), "navigation keeps working"
    if page == "pages/9_Data.py":
        assert len(at.dataframe) == 1, "the freshness table still renders"


def test_a_refused_connection_after_the_page_connected_is_one_line(app_on_standin):
    at = run_page("app.py")
    assert not at.exception
    app_on_standin.stop()
    at.sidebar.selectbox(key="filter_range").select("28d").run()
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and "connection refused" in errors[0]


def test_a_server_that_hangs_after_the_page_connected_costs_one_timeout_not_one_per_panel(app_on_standin,
                                                                                            monkeypatch):
    monkeypatch.setattr(store_module, "CLIENT_TIMEOUT_S", 3)
    at = run_page("app.py")
    assert not at.exception
    app_on_standin.mode("hang")
    traffic.table_stats.clear()  # their minute in the cache is over: both panels ask the server
    traffic.freshness.clear()
    started = time.monotonic()
    at.switch_page("pages/9_Data.py").run()
    elapsed = time.monotonic() - started
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 2 and "no answer within 3 s" in errors[0] and "not retried" in errors[1]
    assert elapsed < 20


def test_an_invalid_secrets_file_is_reported_not_replaced_by_an_empty_store(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[connections.clickhouse]\nurl = "http://h:8123/db\n')  # unterminated string
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    monkeypatch.setattr(dsn_module, "SECRETS_FILE", secrets)
    at = run_page("app.py")
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and "not valid TOML" in errors[0]


def _upload(at, files: list[tuple[str, bytes]], deployment: str = ""):
    at.file_uploader[0].set_value([(name, data, "text/csv") for name, data in files])
    at.text_input(key="upload_deployment").input(deployment)
    at.button[-1].click()  # the form's submit button
    return at.run()


def _csv(deployment: str, rows: int, minute: int = 0) -> bytes:
    """Requests of yesterday (recent data: the Data page offers to move older traces to now)."""
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    lines = [f"{day} 12:{minute + i:02d}:00,{deployment},ok,{100 + i}" for i in range(rows)]
    return ("ts,deployment,status,e2e_ms\n" + "\n".join(lines) + "\n").encode()


def _load_report(at) -> str:
    """The Data page's list of what a load put where (one line per file, first)."""
    return next(m.value for m in at.markdown if " into requests" in m.value and m.value.startswith("- "))


def test_two_uploads_with_the_same_name_are_both_loaded_and_told_apart(app_on_standin):
    at = run_page("pages/9_Data.py")
    at = _upload(at, [("same.csv", _csv("upload-same", 2)), ("same.csv", _csv("upload-same", 3, 10))],
                 deployment="upload-same")
    assert not at.exception and not _errors(at)
    assert [s.value for s in at.success] == ["Loaded 5 rows into requests"]
    report = _load_report(at)
    assert "- same.csv (file 1): 2 rows into requests" in report and "- same.csv (file 2): 3 rows into requests" in report
    stored = Store(app_on_standin.dsn).scalar(
        "SELECT count() FROM requests WHERE deployment = {d:String}", {"d": "upload-same"})
    assert stored == 5


def test_an_upload_error_names_the_file_and_no_server_path(app_on_standin):
    at = run_page("pages/9_Data.py")
    at = _upload(at, [("bad.csv", b"ts,deployment,status,e2e_ms\n2026-10-31 12:00:00,x,ok,-5\n")])
    assert not at.exception
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("bad.csv: row 1") and "/tmp" not in errors[0]


def test_a_file_name_with_markdown_is_shown_as_text(app_on_standin):
    at = run_page("pages/9_Data.py")
    at = _upload(at, [(f"{MARKDOWN_NAME}.csv", _csv("upload-markdown", 1))], deployment="upload-markdown")
    assert not at.exception
    # Loaded or refused (polars reads '[...]' in a path as a glob), the name is shown as typed.
    shown = [m.value for m in at.error] or [_load_report(at).removeprefix("- ")]
    assert len(shown) == 1 and shown[0].startswith(r"!\[x\](pixel.png) \$x^2\$ \:red\[alert\].csv")
    assert _plain(shown[0]).startswith(f"{MARKDOWN_NAME}.csv")


def test_a_formula_in_a_deployment_name_is_neutralised_in_the_csv_export(app_on_standin, monkeypatch):
    served = {}

    class Recording(MemoryMediaFileStorage):  # the real storage, remembering what it serves
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            served[filename] = path_or_data
            return super().load_and_get_id(path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    at = run_page("pages/9_Data.py")
    at = _upload(at, [("formula.csv", _csv("upload-formula", 2))], deployment=FORMULA)
    assert not at.exception and not _errors(at)
    at.sidebar.selectbox(key="filter_range").select("28d")
    at.switch_page("app.py").run()
    assert not at.exception
    exported = pl.read_csv(io.BytesIO(served["deployments_overview.csv"].encode()
                                      if isinstance(served["deployments_overview.csv"], str)
                                      else served["deployments_overview.csv"]))
    names = exported["deployment"].to_list()
    assert "'" + FORMULA in names and FORMULA not in names
    assert exported["requests"].dtype.is_numeric(), "numbers are not prefixed"


def test_in_a_real_browser_a_markdown_file_name_renders_as_text_and_fetches_nothing(standin, tmp_path):
    """`streamlit run` on the stand-in server, Chromium uploads a file whose name is markdown."""
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.test_browser import IDLE

    assert os.path.exists(CHROMIUM), "the real-browser check needs Debian's chromium"
    from playwright.sync_api import sync_playwright

    upload = tmp_path / f"{MARKDOWN_NAME}.csv"
    upload.write_bytes(_csv("upload-browser", 1))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, CLICKHOUSE_URL=standin.dsn), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    fetched = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.on("request", lambda request: fetched.append(request.url))
            deadline = time.monotonic() + 120
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/Data")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            page.wait_for_selector(IDLE, timeout=180_000)
            page.wait_for_selector("h1", timeout=60_000)
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
            page.get_by_role("button", name="Validate and load").click()
            page.locator('[data-testid="stAlertContainer"]').last.wait_for(timeout=120_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            # loaded: the report lists the file; refused: the error names it (polars may glob '[...]')
            shown = page.locator('[data-testid="stMarkdownContainer"]', has_text=f"{MARKDOWN_NAME}.csv").last
            assert shown.inner_text().strip().startswith(f"{MARKDOWN_NAME}.csv")
            assert shown.locator("img, .katex, [class*=color]").count() == 0
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert not [url for url in fetched if "pixel.png" in url]
