"""Real browser: every CSV download on every page (and the weekly bundle's CSVs) parses with polars,
its header is the column registry's CSV names, and no cell holds a formatted display string."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest

from analytics import columns
from tests.test_browser import IDLE, _open, _page_urls, app_url, server_log  # noqa: F401  (the seeded server fixtures)

CSV_NAMES = {c.csv_name for c in columns.REGISTRY.values()}
# What a person-facing format looks like: 1.61M, 99.500%, $1,234, 1,402 ms, 16.8/s, 2.0×, None.
DISPLAY = re.compile(r"^(-?\$|None$|nan$|—$|–$)|^-?[\d.,]+\s*(%|[kMB]|ms|s|/s|×|h|min)$|^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def _check(name: str, data: bytes) -> int:
    frame = pl.read_csv(io.BytesIO(data), infer_schema_length=None)
    unknown = [c for c in frame.columns if c not in CSV_NAMES]
    assert not unknown, f"{name}: columns not named by the registry: {unknown}"
    for column, dtype in frame.schema.items():
        if dtype == pl.String:
            shown = [v for v in frame[column].drop_nulls() if DISPLAY.search(v)]
            assert not shown, f"{name}.{column} holds display strings: {shown[:3]}"
    return frame.width


@pytest.mark.parametrize(("page_name", "path"), _page_urls(), ids=[n for n, _ in _page_urls()])
def test_every_csv_download_holds_registry_names_and_raw_values(browser, app_url, page_name, path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    try:
        _open(page, f"{app_url}/{path}")
        buttons = page.locator('[data-testid="stDownloadButton"] button:visible')
        try:  # a fragment (the what-if results) may still be drawing when the page's script is idle
            buttons.first.wait_for(state="visible", timeout=120_000)
        except Exception:
            pass
        assert buttons.count(), f"{page_name}: no download button"
        checked = 0
        for i in range(buttons.count()):
            page.wait_for_selector(IDLE, timeout=180_000)
            buttons.nth(i).scroll_into_view_if_needed(timeout=60_000)
            with page.expect_download(timeout=60_000) as download:
                buttons.nth(i).click()
            data = Path(download.value.path()).read_bytes()
            if download.value.suggested_filename.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for member in archive.namelist():
                        if member.endswith(".csv"):
                            checked += _check(member, archive.read(member)) > 0
            else:
                assert download.value.suggested_filename.endswith(".csv")
                checked += _check(download.value.suggested_filename, data) > 0
        assert checked
    finally:
        page.close()
