"""Real browser: deployments named with HTML (<a href> and <span style="fill:url(...)">), loaded
through the CLI like any telemetry file, are drawn by the Overview's and the GPU page's charts as
the text they are: no link in any chart and no request to any host but the dashboard's own. And a
file name holding a www address and an e-mail address is shown in an error as text, not as links
(GitHub-flavoured markdown makes bare addresses links even in escaped text)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import polars as pl
import pytest

from tests.conftest import ROOT, streamlit_server
from tests.test_browser import IDLE, SETTLED
from ui.format import LINK_BREAK

LINK = '<a href="https://example.invalid/x">link</a>'
FETCH = '<span style="fill:url(https://example.invalid/y)">fetch</span>'
NAMES = (f"chat {LINK}", f"embed {FETCH}")
HOURS = 24
CHARTS = {"Overview": ("", 4), "GPU efficiency": ("GPU_efficiency", 3)}  # URL path, charts on the page


def _telemetry(folder) -> list:
    """A requests CSV and a DCGM CSV of the last HOURS hours for both hostile deployments."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    times = [end - timedelta(hours=h, minutes=m) for h in range(HOURS) for m in (5, 20, 35, 50)]
    requests = pl.DataFrame([{"ts": t.strftime("%Y-%m-%d %H:%M:%S"), "deployment": name,
                              "status": "error" if i % 10 == 0 else "ok", "ttft_ms": 120.0 + i, "e2e_ms": 900.0 + i}
                             for name in NAMES for i, t in enumerate(times)])
    gpu = pl.DataFrame([{"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "Hostname": f"node-{n}", "gpu": 0,
                         "UUID": f"GPU-{n}", "modelName": "NVIDIA H100 80GB HBM3", "deployment": name,
                         "DCGM_FI_DEV_GPU_UTIL": 80, "DCGM_FI_PROF_SM_ACTIVE": 0.4 + 0.01 * (i % 20),
                         "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": 0.2, "DCGM_FI_DEV_FB_USED": 60000,
                         "DCGM_FI_DEV_FB_FREE": 20000, "DCGM_FI_DEV_POWER_USAGE": 500.0}
                        for n, name in enumerate(NAMES) for i, t in enumerate(times)])
    files = [folder / "requests.csv", folder / "dcgm.csv"]
    requests.write_csv(files[0])
    gpu.write_csv(files[1])
    return files


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_names")
    db = folder / "telemetry"
    for file, kind in zip(_telemetry(folder), ("requests", "dcgm"), strict=True):
        loaded = subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", "ingest", "--format",
                                 kind, str(file)], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                                timeout=300)
        assert loaded.returncode == 0, loaded.stderr
    with streamlit_server(db, folder / "streamlit.log") as url:
        yield url


def test_html_in_deployment_names_is_drawn_as_text_with_no_link_and_no_external_request(browser, hostile_url):
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlsplit(request.url).hostname not in ("127.0.0.1", None) else None)
    try:
        for title, (path, charts) in CHARTS.items():
            page.goto(f"{hostile_url}/{path}")
            page.wait_for_selector(IDLE, timeout=180_000)
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
                                   timeout=120_000)
            page.wait_for_selector(IDLE, timeout=180_000)
            page.wait_for_function(SETTLED, timeout=60_000)
            page.wait_for_timeout(1000)  # plotly draws legends and labels after the SVG appears
            assert page.locator('[data-testid="stException"]').count() == 0, title
            assert page.locator(".js-plotly-plot").count() >= charts, title
            assert page.locator(".js-plotly-plot svg a").count() == 0, f"{title}: a name became a link"
            drawn = " ".join(page.locator(".js-plotly-plot svg text").all_text_contents())
            assert "chat <a href=" in drawn or "embed <span style=" in drawn, f"{title}: names not shown as typed"
        assert outside == [], "requests left the dashboard's host"
    finally:
        page.close()


def test_a_file_name_with_bare_addresses_is_shown_as_text_not_links(browser, hostile_url, tmp_path):
    typed = "see www.example.invalid or ops@example.invalid.yaml"
    upload = tmp_path / typed
    upload.write_bytes(b"\xff\xfe not UTF-8")
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlsplit(request.url).hostname not in ("127.0.0.1", None) else None)
    try:
        page.goto(f"{hostile_url}/SLOs")
        page.wait_for_selector(IDLE, timeout=180_000)
        page.get_by_text("SLO definitions").first.click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
        error = page.locator('[data-testid="stAlertContainer"]', has_text="not UTF-8 text")
        error.wait_for(timeout=120_000)
        assert error.inner_text().replace(LINK_BREAK, "").strip().startswith(f"{typed}: not UTF-8 text")
        assert error.locator("a").count() == 0
        assert outside == [], "requests left the dashboard's host"
    finally:
        page.close()
