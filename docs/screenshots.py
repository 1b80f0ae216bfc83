"""Take the screenshots in docs/screenshots/: every page of the app, 1440x900, headless Chromium.

    python -m analytics --dsn chdb:///tmp/docs-demo demo      # a demo store of its own
    python docs/screenshots.py --dsn chdb:///tmp/docs-demo

Starts the app's server as `make run` does (analytics.cli.bench.browser.server: `python -m ui.serve`
on a free port), opens each page by URL and saves it once its script is idle, nothing is stale and
every plotly chart is drawn. Needs playwright and Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.cli.bench.browser import CHROMIUM, CHROMIUM_ARGS, pages, server  # noqa: E402

SHOTS = Path(__file__).resolve().parent / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
DRAWN = """() => !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"], [data-testid="stSpinner"]')
  && [...document.querySelectorAll('.js-plotly-plot')].every(chart => chart.querySelector('.main-svg'))"""
TIMEOUT_MS = 300_000


def take(dsn: str) -> list[Path]:
    """Save one PNG per page (overview.png, slos.png, ...) into docs/screenshots/; returns their paths."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as tmp, server(dsn, Path(tmp) / "streamlit.log") as (url, _, _), \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        for title, path in pages():
            page.goto(f"{url}/{path}")
            page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
            page.wait_for_selector(f'h1:has-text("{title}")', timeout=TIMEOUT_MS)
            page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
            page.wait_for_function(DRAWN, timeout=TIMEOUT_MS)
            page.wait_for_timeout(1000)  # plotly's transitions end
            target = SHOTS / f"{title.lower().replace(' ', '-')}.png"
            page.screenshot(path=target)
            saved.append(target)
            print(f"{target} {target.stat().st_size // 1024} KB")
        browser.close()
    return saved


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="the store to show, e.g. chdb:///tmp/docs-demo")
    take(parser.parse_args().dsn)
