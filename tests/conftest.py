"""Shared fixtures: one embedded store per test process, seeded once with a small demo fleet.

chDB allows one on-disk path per process, so the whole session shares one store; its path is
also exported as CLICKHOUSE_URL so AppTest pages (same process) open the same database.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.cli.bench.browser import (  # one set of launch settings for bench and tests
    CHROMIUM,
    CHROMIUM_ARGS,
    server,
)
from analytics.ingest.demo import generator as demo
from analytics.store.schema import open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# The demo end used by every test: incidents sit at fixed times relative to it.
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_DAYS = 35
DEMO_REQUESTS = 1_000_000


@pytest.fixture(scope="session")
def db_path(tmp_path_factory) -> Path:
    """This test process's embedded database folder."""
    return tmp_path_factory.mktemp("chdb") / "telemetry"


@pytest.fixture(scope="session")
def store(db_path):
    """The session's store, with the schema and the small demo fleet seeded once."""
    dsn = f"chdb://{db_path}"
    os.environ["CLICKHOUSE_URL"] = dsn
    opened = open_store(dsn)
    # Every request logged (weight 1): at this small size, 1% sampling would leave hourly demand
    # too noisy for the capacity tests; weighted rows are tested in test_ingest and test_schema.
    demo.seed(opened, days=DEMO_DAYS, requests=DEMO_REQUESTS, seed=7, end=DEMO_END, scrape_seconds=300,
              sample_rate=1.0)
    yield opened


@pytest.fixture(scope="session")
def demo_store(store):
    """Alias of `store`, named for tests that rely on the demo fleet's contents."""
    return store


def shared_data(relative: str) -> Path:
    """A file under ../shared/data; skips (or fails in CI) when the folder is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {path} (the shared data folder beside the checkout)")
        pytest.skip(f"{path} is absent: the shared data folder is not beside this checkout")
    return path


def run_page(script: str, **query):
    """Run a page under AppTest the way the app runs it (entrypoint app.py), with URL query
    parameters; AppTest.from_file on a page alone breaks its navigation links."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    if script != "app.py":
        at.switch_page(script)
    return at.run()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the real-browser tests; missing Chromium fails in CI, skips elsewhere."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = "Debian's chromium is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Deprecation notices a server log must not hold: Python's DeprecationWarning (shown for every
# module: the server runs with PYTHONWARNINGS=default::DeprecationWarning) and Streamlit's own
# notices ("`use_container_width` will be removed ..., please use `width`").
DEPRECATION = re.compile(r"DeprecationWarning|deprecated|will be removed", re.IGNORECASE)


def deprecations(log: Path) -> list[str]:
    """The lines of a server log that announce a deprecation."""
    return [line for line in log.read_text().splitlines() if DEPRECATION.search(line)]


def seed_browser_demo(folder: Path) -> Path:
    """A 21-day demo store of 200k requests ending 2026-11-01, seeded by the CLI into `folder`;
    returns its path (each browser test module seeds its own: one chDB path per process)."""
    db = folder / "telemetry"
    seed = subprocess.run(
        [sys.executable, "-m", "analytics", "demo", "--days", "21", "--requests", "200000",
         "--end", "2026-11-01T00:00:00Z", "--scrape-seconds", "300"],
        cwd=ROOT, env=dict(os.environ, CLICKHOUSE_URL=f"chdb://{db}"), capture_output=True, text=True, timeout=600,
    )
    assert seed.returncode == 0, seed.stderr
    return db


@contextlib.contextmanager
def streamlit_server(db: Path, log: Path) -> Iterator[str]:
    """`streamlit run app.py` on the embedded store at `db` (the bench's server: free port, own
    process group), its output (with every DeprecationWarning) written to `log`; yields its URL."""
    with server(f"chdb://{db}", log, env={"PYTHONWARNINGS": "default::DeprecationWarning"}) as (url, _, _):
        yield url
