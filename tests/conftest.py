"""Shared fixtures: one store per test process, seeded once with a small demo fleet.

By default the store is embedded chDB: chDB allows one on-disk path per process, so the whole
session shares one store. With CLICKHOUSE_TEST_URL set (a server DSN, e.g.
http://user:pw@host:8123/default) the store is instead a fresh database on that server, created
per test process and dropped at the end; with CLICKHOUSE_TEST_CLUSTER also set, that database
and the schema are created ON CLUSTER (Replicated local tables under Distributed ones,
analytics.store.ddl). The store's DSN is exported as CLICKHOUSE_URL so AppTest pages (same
process) open the same database. Which one runs, and why tests/test_server.py is skipped, is
printed in pytest's header.
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
from analytics.errors import SourceError
from analytics.ingest.demo import generator as demo
from analytics.store.client import Store
from analytics.store.ddl import layout_of
from analytics.store.dsn import split_cluster, with_cluster
from analytics.store.schema import open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
# The demo end used by every test: incidents sit at fixed times relative to it.
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_DAYS = 35
DEMO_REQUESTS = 1_000_000
# The server suite switch: a server DSN, and optionally a cluster of it (read once, at import).
TEST_URL = os.environ.get("CLICKHOUSE_TEST_URL", "")
TEST_CLUSTER = os.environ.get("CLICKHOUSE_TEST_CLUSTER", "")
SERVER_SKIP_REASON = "CLICKHOUSE_TEST_URL is not set: no ClickHouse server to test (the suite runs on embedded chDB)"


def server_dsn(url: str, cluster: str, database: str | None = None) -> str:
    """`url` with its path set to `database` (when given) and `cluster=` added (when given)."""
    from urllib.parse import urlsplit, urlunsplit

    if database is not None:
        url = urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
    return with_cluster(url, cluster) if cluster and not split_cluster(url)[1] else url


def check_server(url: str, cluster: str) -> str:
    """One line on the server the suite will run against; a server that cannot be used is one
    clear error naming CLICKHOUSE_TEST_URL (its host, never its password) and why."""
    try:
        store = Store(server_dsn(url, cluster))
        try:
            if store.target.engine != "server":
                raise SourceError(f"{store.target} is not a ClickHouse server DSN (http(s)://user:pw@host:port/db)")
            version = store.scalar("SELECT version()")
            layout = layout_of(store)  # on a cluster: checks it is defined on the server
        finally:
            store.close()
    except SourceError as exc:
        raise pytest.UsageError(f"CLICKHOUSE_TEST_URL: {exc}") from None
    where = f"cluster {layout.cluster}, " if layout.clustered else ""
    return f"ClickHouse {version} at {store.target.location} ({where}a fresh database per test process)"


def pytest_configure(config):
    """Fail the run at once, in one line, when the configured server cannot be used."""
    if TEST_URL:
        config.server_line = check_server(TEST_URL, TEST_CLUSTER)


def report_header(url: str, server_line: str) -> list[str]:
    """Which store the suite runs on and, without a server, why tests/test_server.py is skipped."""
    if url:
        return [f"store: {server_line}"]
    return [f"store: embedded chDB; tests/test_server.py skipped: {SERVER_SKIP_REASON}"]


def pytest_report_header(config):
    return report_header(TEST_URL, getattr(config, "server_line", ""))


# Fixtures that make a test `slow` (left to `make test-all`), each with why: it starts processes or
# seeds a store of its own. Figures: the file's setup + call time in a full run at -n 2 on 2 cores.
SLOW_FIXTURES = {
    "bench_dsn",  # tests/test_bench_smoke.py: the bench seeds 1M requests, then runs in Chromium (345 s)
    "standin",  # tests/hostile: a ClickHouse stand-in server process, AppTest pages against it (150 s)
    "telemetry",  # tests/hostile/test_kill_during_ingest.py: ingest processes killed at every moment (23-86 s)
    "direct",  # tests/test_otel_metrics.py: the demo seeded twice more by the CLI, as tables and as OTel (105 s)
}


def pytest_collection_modifyitems(config, items):
    """The tiers (`make test` runs `-m "smoke or not (slow or browser)"`, `make test-all` everything):
    - `browser`: a test that uses the `browser` fixture (headless Chromium) or lives in a module
      that starts a `streamlit run` server (imports `streamlit_server`);
    - `slow`: a test that uses a fixture of SLOW_FIXTURES (each starts processes or seeds a store
      of its own).
    """
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "browser" in names or hasattr(item.module, "streamlit_server"):
            item.add_marker(pytest.mark.browser)
        if names & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def db_path(tmp_path_factory) -> Path:
    """This test process's embedded database folder."""
    return tmp_path_factory.mktemp("chdb") / "telemetry"


@pytest.fixture(scope="session")
def store_dsn(db_path) -> Iterator[str]:
    """The session's DSN: the embedded database, or a fresh database on CLICKHOUSE_TEST_URL's server
    (ON CLUSTER with CLICKHOUSE_TEST_CLUSTER), dropped when the session ends."""
    if not TEST_URL:
        yield f"chdb://{db_path}"
        return
    admin = Store(server_dsn(TEST_URL, TEST_CLUSTER))
    on = layout_of(admin).on
    database = f"analytics_test_{os.getpid()}_{os.urandom(3).hex()}"
    admin.command(f"CREATE DATABASE IF NOT EXISTS {database}{on}")
    try:
        yield server_dsn(TEST_URL, TEST_CLUSTER, database)
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}{on} SYNC")
        admin.close()


@pytest.fixture(scope="session")
def store(store_dsn):
    """The session's store, with the schema and the small demo fleet seeded once."""
    dsn = store_dsn
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


def seed_browser_demo(folder: Path, requests: int = 200_000) -> Path:
    """A 21-day demo store of `requests` requests ending 2026-11-01, seeded by the CLI into `folder`;
    returns its path (each browser test module seeds its own: one chDB path per process)."""
    db = folder / "telemetry"
    seed = subprocess.run(
        [sys.executable, "-m", "analytics", "demo", "--days", "21", "--requests", str(requests),
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
