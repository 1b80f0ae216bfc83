"""Raw request rows for the SLO tests that go through the real store and materialized view."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from analytics.store import conventions


def insert_requests(store, rows: list[tuple[datetime, str, str, float | None, float | None, float | None]]) -> None:
    """Insert (ts, deployment, status, ttft_ms, tpot_ms, e2e_ms) rows into the raw requests table
    (other columns fixed); requests_5m fills through its materialized view."""
    n = len(rows)
    ts, deployments, statuses, ttft, tpot, e2e = (list(c) for c in zip(*rows, strict=True))
    frame = pl.DataFrame({
        "ts": ts, "deployment": deployments, "model": ["probe"] * n, "model_version": ["v1"] * n,
        "region": ["probe-region"] * n, "gpu_type": ["L4-24GB"] * n, "replica": ["r0"] * n,
        "status": statuses, "queue_ms": [None] * n, "ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": e2e,
        "input_tokens": [1] * n, "output_tokens": [2] * n,
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), "queue_ms": pl.Float32, "ttft_ms": pl.Float32,
                         "tpot_ms": pl.Float32, "e2e_ms": pl.Float32, "input_tokens": pl.UInt32,
                         "output_tokens": pl.UInt32})
    store.insert(conventions.REQUESTS, frame)


def delete_requests(store, prefix: str) -> None:
    """Remove the raw and rollup rows of the deployments whose name starts with `prefix`."""
    store.command(f"DELETE FROM {conventions.REQUESTS} WHERE startsWith(deployment, {{prefix:String}})", {"prefix": prefix})
    for rollup in (conventions.REQUESTS_5M, conventions.REQUESTS_1H, conventions.GOODPUT_5M):  # every rollup of requests
        store.command(f"ALTER TABLE {rollup} DELETE WHERE startsWith(deployment, {{prefix:String}}) "
                      "SETTINGS mutations_sync = 2", {"prefix": prefix})
