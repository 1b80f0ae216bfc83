"""Against a real ClickHouse server, when CLICKHOUSE_TEST_URL names one (none can be installed on
the development machines): schema, rollups and bound parameters behave as on embedded chDB."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import polars as pl
import pytest

from analytics.store import conventions as N
from analytics.store.queries import request_totals
from analytics.store.schema import open_store

SERVER = os.environ.get("CLICKHOUSE_TEST_URL")
pytestmark = pytest.mark.skipif(not SERVER, reason="CLICKHOUSE_TEST_URL is not set: no ClickHouse server to test")


def test_a_server_gets_the_schema_and_rolls_up_weighted_requests():
    store = open_store(SERVER)
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
    try:
        store.insert(N.REQUESTS, frame)
        row = request_totals(store, datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC),
                             [deployment]).row(0, named=True)
        assert (row["requests"], row["ok"], row["error"]) == (11, 10, 1)
        assert sum(row["ttft_hist"]) == 10
    finally:
        for table in (N.REQUESTS, N.REQUESTS_5M):
            store.command(f"DELETE FROM {table} WHERE deployment = {{d:String}}", {"d": deployment})
        store.close()
