"""The server suite switch (tests/conftest.py) and what only a real server can show.

With CLICKHOUSE_TEST_URL set, every store fixture of the suite runs on a fresh database of that
server (ON CLUSTER with CLICKHOUSE_TEST_CLUSTER), and the tests marked `needs_server` here run;
without it they are skipped with the reason, which pytest's header also prints. No ClickHouse
server can be installed on the development machines, so the switch's own failure handling is
tested here against local stand-ins: a port nothing listens on, and the stand-in server of
tests/hostile (ClickHouse's HTTP interface over chDB) for a cluster it does not have.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import polars as pl
import pytest

from analytics.store import conventions
from analytics.store.ddl import layout_of
from analytics.store.queries import request_totals
from tests.conftest import SERVER_SKIP_REASON, TEST_URL, check_server, report_header
from tests.hostile.standin import StandIn

needs_server = pytest.mark.skipif(not TEST_URL, reason=SERVER_SKIP_REASON)


@needs_server
def test_the_suite_runs_on_the_server_in_a_database_of_its_own(store):
    assert store.target.engine == "server"
    assert store.scalar("SELECT currentDatabase()").startswith("analytics_test_")
    assert store.scalar(f"SELECT count() FROM {conventions.REQUESTS}") > 0


@needs_server
def test_on_a_cluster_every_table_is_distributed_over_a_replicated_local_table(store):
    layout = layout_of(store)
    if not layout.clustered:
        pytest.skip("CLICKHOUSE_TEST_CLUSTER is not set: the server runs the single-node schema")
    engines = dict(store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").iter_rows())
    for table in (conventions.REQUESTS, conventions.REQUESTS_5M, conventions.REQUESTS_1H, conventions.GPU_METRICS, conventions.GPU_1H, conventions.GOODPUT_5M):
        assert engines[table] == "Distributed"
        assert engines[f"{table}_local"].startswith("Replicated")


@needs_server
def test_a_server_rolls_up_weighted_requests_on_insert(store):
    deployment = f"test-server-{os.getpid()}"
    frame = pl.DataFrame({
        "ts": [datetime(2024, 3, 1, 0, 1, tzinfo=UTC), datetime(2024, 3, 1, 0, 2, tzinfo=UTC)],
        "deployment": [deployment] * 2, "model": ["m"] * 2, "model_version": ["v1"] * 2,
        "region": ["r"] * 2, "gpu_type": ["g"] * 2, "replica": ["r0"] * 2, "status": ["ok", "error"],
        "queue_ms": [1.0, 1.0], "ttft_ms": [200.0, None], "tpot_ms": [20.0, None], "e2e_ms": [900.0, 5.0],
        "input_tokens": [10, 10], "output_tokens": [5, 0], "weight": [10, 1],
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), "input_tokens": pl.UInt32,
                         "output_tokens": pl.UInt32, "weight": pl.UInt32,
                         **{c: pl.Float32 for c in conventions.LATENCY_FIELDS}})
    store.insert(conventions.REQUESTS, frame)
    row = request_totals(store, datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC),
                         [deployment]).row(0, named=True)
    assert (row["requests"], row["ok"], row["error"]) == (11, 10, 1)
    assert sum(row["ttft_hist"]) == 10


# --- the switch itself, against local stand-ins -------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _refusal(url: str, cluster: str = "") -> str:
    """The one-line error the run stops with (pytest_configure raises it before any test runs)."""
    with pytest.raises(pytest.UsageError) as raised:
        check_server(url, cluster)
    return str(raised.value)


def test_without_a_server_the_header_says_why_the_server_tests_are_skipped():
    assert report_header("", "") == [f"store: embedded chDB; tests/test_server.py skipped: {SERVER_SKIP_REASON}"]


def test_with_a_server_the_header_names_it():
    line = "ClickHouse 25.8 at 127.0.0.1:8123 (a fresh database per test process)"
    assert report_header("http://u:p@127.0.0.1:8123/default", line) == [f"store: {line}"]


def test_an_unreachable_server_is_one_line_naming_the_url_and_no_test_runs():
    port = _free_port()  # closed again: nothing listens there
    error = _refusal(f"http://default:hunter2pw@127.0.0.1:{port}/default")
    assert len(error.splitlines()) == 1 and error.startswith("CLICKHOUSE_TEST_URL"), error
    assert f"127.0.0.1:{port}" in error and "connection refused" in error
    assert "hunter2pw" not in error


def test_a_cluster_the_server_does_not_have_is_one_line_naming_it(tmp_path):
    standin = StandIn(tmp_path / "standin")
    try:
        error = _refusal(standin.dsn, "prod")
    finally:
        standin.stop()
    assert len(error.splitlines()) == 1 and error.startswith("CLICKHOUSE_TEST_URL"), error
    assert f"127.0.0.1:{standin.port}" in error and "no cluster 'prod'" in error
    assert standin.password not in error
