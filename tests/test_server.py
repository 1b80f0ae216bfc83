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
import subprocess
import sys
from datetime import UTC, datetime

import polars as pl
import pytest

from analytics.store import conventions as N
from analytics.store.ddl import layout_of
from analytics.store.queries import request_totals
from tests.conftest import ROOT, SERVER_SKIP_REASON, TEST_URL
from tests.hostile.standin import StandIn

needs_server = pytest.mark.skipif(not TEST_URL, reason=SERVER_SKIP_REASON)


@needs_server
def test_the_suite_runs_on_the_server_in_a_database_of_its_own(store):
    assert store.target.engine == "server"
    assert store.scalar("SELECT currentDatabase()").startswith("analytics_test_")
    assert store.scalar(f"SELECT count() FROM {N.REQUESTS}") > 0


@needs_server
def test_on_a_cluster_every_table_is_distributed_over_a_replicated_local_table(store):
    layout = layout_of(store)
    if not layout.clustered:
        pytest.skip("CLICKHOUSE_TEST_CLUSTER is not set: the server runs the single-node schema")
    engines = dict(store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").iter_rows())
    for table in (N.REQUESTS, N.REQUESTS_5M, N.REQUESTS_1H, N.GPU_METRICS, N.GPU_1H, N.GOODPUT_5M):
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
                         **{c: pl.Float32 for c in N.LATENCY_FIELDS}})
    store.insert(N.REQUESTS, frame)
    row = request_totals(store, datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC),
                         [deployment]).row(0, named=True)
    assert (row["requests"], row["ok"], row["error"]) == (11, 10, 1)
    assert sum(row["ttft_hist"]) == 10


# --- the switch itself, against local stand-ins -------------------------------------------------

def _pytest(env: dict) -> subprocess.CompletedProcess:
    """This file's server tests in a fresh pytest process with `env` (the switch is read at start)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider",
                           "tests/test_server.py", "-k", "on_the_server_in_a_database"],
                          cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=300)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_a_server_the_header_says_why_the_server_tests_are_skipped():
    result = _pytest({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"tests/test_server.py skipped: {SERVER_SKIP_REASON}" in result.stdout
    assert "1 skipped" in result.stdout


def test_an_unreachable_server_is_one_line_naming_the_url_and_no_test_runs():
    port = _free_port()  # closed again: nothing listens there
    result = _pytest({"CLICKHOUSE_TEST_URL": f"http://default:hunter2pw@127.0.0.1:{port}/default"})
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "CLICKHOUSE_TEST_URL" in line]
    assert len(errors) == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "connection refused" in errors[0]
    assert "hunter2pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr and "passed" not in result.stdout


def test_a_cluster_the_server_does_not_have_is_one_line_naming_it(tmp_path):
    standin = StandIn(tmp_path / "standin")
    try:
        result = _pytest({"CLICKHOUSE_TEST_URL": standin.dsn, "CLICKHOUSE_TEST_CLUSTER": "prod"})
    finally:
        standin.stop()
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "CLICKHOUSE_TEST_URL" in line]
    assert len(errors) == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{standin.port}" in errors[0] and "no cluster 'prod'" in errors[0]
    assert standin.password not in result.stdout + result.stderr
