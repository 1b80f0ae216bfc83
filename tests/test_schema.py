"""Schema and rollups: idempotent DDL, views that keep rollups equal to the raw table."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from analytics.store import conventions as N
from analytics.store.schema import HIST_MERGE, SCHEMA_VERSION, ensure_schema


def test_creating_the_schema_twice_changes_nothing(store):
    before = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
    ensure_schema(store)
    after = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
    assert before.equals(after)
    assert store.scalar(f"SELECT max(version) FROM {N.SCHEMA_VERSION_TABLE}") == SCHEMA_VERSION


def test_the_rollup_has_one_row_per_deployment_version_and_slot_whatever_the_volume(store):
    raw = store.scalar(f"SELECT count() FROM {N.REQUESTS}")
    rollup = store.scalar(f"SELECT count() FROM {N.REQUESTS_5M} FINAL")
    keys = store.scalar(
        f"SELECT count() FROM (SELECT DISTINCT deployment, model_version, "
        f"toStartOfInterval(ts, INTERVAL 5 MINUTE) FROM {N.REQUESTS})"
    )
    assert rollup == keys < raw


def test_rollup_counts_by_status_equal_raw_counts_weighted_by_sampling(store):
    raw = store.query(
        f"SELECT deployment, sum(weight) AS requests, sumIf(weight, status = 'ok') AS ok, "
        f"sumIf(weight, status = 'timeout') AS timeout, sum(output_tokens * weight) AS output_tokens "
        f"FROM {N.REQUESTS} GROUP BY deployment ORDER BY deployment"
    )
    rolled = store.query(
        f"SELECT deployment, sum(requests) AS requests, sum(ok) AS ok, sum(timeout) AS timeout, "
        f"sum(output_tokens) AS output_tokens FROM {N.REQUESTS_5M} GROUP BY deployment ORDER BY deployment"
    )
    assert raw.equals(rolled)


def test_histograms_count_ok_requests_exactly_at_every_bucket_edge(store):
    deployment = "chat-llama3-8b-use"
    hist = store.query(
        f"SELECT {HIST_MERGE}(ttft_hist) AS h FROM {N.REQUESTS_5M} "
        "WHERE deployment = {d:String}",
        {"d": deployment},
    )["h"][0].to_numpy()
    cumulative = np.cumsum(hist)
    raw = store.query(
        f"SELECT sumForEach(arrayMap(e -> toUInt64(status = 'ok' AND ttft_ms <= e) * weight, "
        f"{{edges:Array(Float64)}})) AS c "
        f"FROM {N.REQUESTS} WHERE deployment = {{d:String}}",
        {"d": deployment, "edges": N.EDGES_MS.tolist()},
    )["c"][0].to_numpy()
    assert cumulative[-1] == store.scalar(
        f"SELECT sumIf(weight, status = 'ok' AND ttft_ms IS NOT NULL) FROM {N.REQUESTS} "
        "WHERE deployment = {d:String}",
        {"d": deployment})
    assert np.array_equal(cumulative[: len(N.EDGES_MS)], raw)


def test_gpu_rollup_means_ignore_missing_profiling_fields(store):
    from analytics.ingest.demo.fleet import NO_PROFILING

    frame = store.query(
        f"SELECT sum(sm_active_n) AS n, sum(gpu_util_n) AS util_n, sum(samples) AS samples "
        f"FROM {N.GPU_1H} WHERE deployment = {{d:String}}",
        {"d": NO_PROFILING},
    )
    assert frame.row(0) == (0, frame["samples"][0], frame["samples"][0])


def test_dcgm_blank_sentinels_never_reach_a_mean(store):
    sample = {c: None for c in N.GPU_COLUMNS}
    sample.update(ts=datetime(2020, 1, 1, tzinfo=UTC), node="test-node", gpu=0, gpu_type="X",
                  deployment="test-sentinel", region="r", gpu_util=50.0, sm_active=float(2**47))
    frame = pl.DataFrame([sample, sample | {"sm_active": 0.5}],
                         schema={"ts": pl.Datetime("ms", "UTC"), "node": pl.String, "gpu": pl.UInt8,
                                 "gpu_type": pl.String, "deployment": pl.String, "region": pl.String,
                                 **{c: pl.Float32 for c in N.GPU_VALUE_COLUMNS}})
    store.insert(N.GPU_METRICS, frame)
    got = store.query(f"SELECT sum(sm_active_sum) / sum(sm_active_n) AS mean FROM {N.GPU_1H} "
                      "WHERE deployment = 'test-sentinel'")
    assert got["mean"][0] == 0.5
