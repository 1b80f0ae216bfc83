"""Schema and rollups: idempotent DDL, views that keep rollups equal to the raw table."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.ingest.load import loading
from analytics.store import conventions, journal
from analytics.store.conventions import hist_column
from analytics.store.journal import LOAD_ID
from analytics.store.schema import HIST_MERGE, ROLLUP_KEYS, ROLLUPS, SCHEMA_VERSION, ensure_schema


def test_creating_the_schema_twice_changes_nothing(store):
    before = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
    ensure_schema(store)
    after = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
    assert before.equals(after)
    assert store.scalar(f"SELECT max(version) FROM {conventions.SCHEMA_VERSION_TABLE}") == SCHEMA_VERSION


def test_the_rollup_has_one_row_per_key_and_slot_whatever_the_volume(store):
    # The key: deployment, region, model, version and GPU type (ROLLUP_KEYS); the shared store also
    # holds other test modules' rows, e.g. one deployment in two regions in the same slot.
    raw = store.scalar(f"SELECT count() FROM {conventions.REQUESTS}")
    rollup = store.scalar(f"SELECT count() FROM {conventions.REQUESTS_5M} FINAL")
    columns = ", ".join(k for k in ROLLUP_KEYS if k != "slot")
    keys = store.scalar(
        f"SELECT count() FROM (SELECT DISTINCT {columns}, toStartOfInterval(ts, INTERVAL 5 MINUTE) FROM {conventions.REQUESTS})"
    )
    assert rollup == keys < raw


def test_rollup_counts_by_status_equal_raw_counts_weighted_by_sampling(store):
    raw = store.query(
        f"SELECT deployment, sum(weight) AS requests, sumIf(weight, status = 'ok') AS ok, "
        f"sumIf(weight, status = 'timeout') AS timeout, sum(output_tokens * weight) AS output_tokens "
        f"FROM {conventions.REQUESTS} GROUP BY deployment ORDER BY deployment"
    )
    rolled = store.query(
        f"SELECT deployment, sum(requests) AS requests, sum(ok) AS ok, sum(timeout) AS timeout, "
        f"sum(output_tokens) AS output_tokens FROM {conventions.REQUESTS_5M} GROUP BY deployment ORDER BY deployment"
    )
    assert raw.equals(rolled)


def test_histograms_count_ok_requests_exactly_at_every_bucket_edge(store):
    deployment = "chat-llama3-8b-use"
    hist = store.query(
        f"SELECT {HIST_MERGE}(ttft_hist) AS h FROM {conventions.REQUESTS_5M} "
        "WHERE deployment = {d:String}",
        {"d": deployment},
    )["h"][0].to_numpy()
    cumulative = np.cumsum(hist)
    raw = store.query(
        f"SELECT sumForEach(arrayMap(e -> toUInt64(status = 'ok' AND ttft_ms <= e) * weight, "
        f"{{edges:Array(Float64)}})) AS c "
        f"FROM {conventions.REQUESTS} WHERE deployment = {{d:String}}",
        {"d": deployment, "edges": conventions.EDGES_MS.tolist()},
    )["c"][0].to_numpy()
    assert cumulative[-1] == store.scalar(
        f"SELECT sumIf(weight, status = 'ok' AND ttft_ms IS NOT NULL) FROM {conventions.REQUESTS} "
        "WHERE deployment = {d:String}",
        {"d": deployment})
    assert np.array_equal(cumulative[: len(conventions.EDGES_MS)], raw)


def test_the_hourly_rollup_is_the_5_minute_rollup_summed_to_hours(store):
    sums = ", ".join(f"sum({c}) AS {c}" for c in ("requests", "ok", "error", "timeout", "rejected", "unknown",
                                                  "input_tokens", "output_tokens", "ok_output_tokens"))
    hists = ", ".join(f"{HIST_MERGE}({hist_column(f)}) AS {hist_column(f)}" for f in conventions.LATENCY_FIELDS)

    def hourly(table: str) -> pl.DataFrame:
        return store.query(f"SELECT toStartOfHour(slot) AS hour, deployment, region, model, model_version, gpu_type, "
                           f"{sums}, round(sum(e2e_ms_sum), 3) AS e2e_ms_sum, {hists} FROM {table} "
                           "GROUP BY ALL ORDER BY hour, deployment, region, model, model_version, gpu_type")

    five, hour = hourly(conventions.REQUESTS_5M), hourly(conventions.REQUESTS_1H)
    assert five.height > 100 and five["requests"].sum() > 0
    assert hour.equals(five)


def test_gpu_rollup_means_ignore_missing_profiling_fields(store):
    from analytics.ingest.demo.fleet import NO_PROFILING

    frame = store.query(
        f"SELECT sum(sm_active_n) AS n, sum(gpu_util_n) AS util_n, sum(samples) AS samples "
        f"FROM {conventions.GPU_1H} WHERE deployment = {{d:String}}",
        {"d": NO_PROFILING},
    )
    assert frame.row(0) == (0, frame["samples"][0], frame["samples"][0])


def test_dcgm_blank_sentinels_never_reach_a_mean(store):
    sample = {c: None for c in conventions.GPU_COLUMNS}
    sample.update(ts=datetime(2020, 1, 1, tzinfo=UTC), node="test-node", gpu=0, gpu_type="X",
                  deployment="test-sentinel", region="r", gpu_util=50.0, sm_active=float(2**47))
    frame = pl.DataFrame([sample, sample | {"sm_active": 0.5}],
                         schema={"ts": pl.Datetime("ms", "UTC"), "node": pl.String, "gpu": pl.UInt8,
                                 "gpu_type": pl.String, "deployment": pl.String, "region": pl.String,
                                 **{c: pl.Float32 for c in conventions.GPU_VALUE_COLUMNS}})
    store.insert(conventions.GPU_METRICS, frame)
    got = store.query(f"SELECT sum(sm_active_sum) / sum(sm_active_n) AS mean FROM {conventions.GPU_1H} "
                      "WHERE deployment = 'test-sentinel'")
    assert got["mean"][0] == 0.5


MIGRATION_SCRIPT = """
import json, sys
from datetime import UTC, datetime, timedelta
import polars as pl
from analytics.ingest.load import load_frames
from analytics.store.client import Store
from analytics.store.schema import open_store

dsn, ddl = sys.argv[1], open(sys.argv[2]).read()
old = Store(dsn)
for statement in ddl.split(';'):
    if statement.strip():
        old.command(statement)
old.command("INSERT INTO schema_version (version) VALUES (1)")
old.command("INSERT INTO requests (ts, deployment, status, e2e_ms, ttft_ms, tpot_ms, weight) VALUES "
            "('2024-01-01 00:00:01', 'old', 'ok', 100, 30, 5, 10), ('2024-01-01 00:00:02', 'old', 'error', NULL, 1, 1, 10)")
old.close()
store = open_store(dsn)
frame = pl.DataFrame({"ts": [datetime(2024, 1, 1, 0, 1, tzinfo=UTC)], "deployment": ["old"], "status": ["unknown"],
                      "weight": [5]}).with_columns(pl.col("weight").cast(pl.UInt32))
load_frames(store, "requests", [frame], "new")
print(json.dumps({
    "version": store.scalar("SELECT max(version) FROM schema_version"),
    "rollup": store.query("SELECT sum(requests) r, sum(ok) ok, sum(error) e, sum(unknown) u FROM requests_5m").row(0),
    "hourly": store.query("SELECT sum(requests) r, sum(ok) ok, sum(error) e, sum(unknown) u FROM requests_1h").row(0),
    "goodput": store.query("SELECT ttft_bucket, tpot_bucket, sum(n) FROM requests_goodput_5m "
                           "GROUP BY ALL ORDER BY ALL").rows(),
    "load_ids": store.query("SELECT load_id != '' FROM requests ORDER BY ts")[:, 0].to_list(),
    "gpu_load_id": store.scalar("SELECT count() FROM system.columns WHERE table = 'gpu_metrics' AND name = 'load_id'"),
}))
"""


def test_a_store_made_by_schema_v1_is_migrated_and_keeps_its_rollups(tmp_path):
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", MIGRATION_SCRIPT, f"chdb://{tmp_path / 'v1'}",
                             str(root / "tests" / "data" / "schema_v1.sql")],
                            capture_output=True, text=True, timeout=120, cwd=root)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["version"] == SCHEMA_VERSION
    # The v1 rows stay rolled up; the new 'unknown' row lands in the new column, through the new view.
    assert got["rollup"] == [25, 10, 10, 5]
    # The hourly rollup (v4) is filled from requests_5m, and the new load reaches it through requests_5m.
    assert got["hourly"] == [25, 10, 10, 5]
    # The goodput rollup (v3) is filled from the v1 raw rows: the ok request, ttft 30 ms and tpot 5 ms.
    assert got["goodput"] == [[15, 7, 10]]
    assert got["load_ids"] == [False, False, True]
    assert got["gpu_load_id"] == 1


def _deployment_rollup(store, deployment: str) -> tuple:
    requests = store.query(
        f"SELECT sum(requests), sum(ok), sum(error), sum(output_tokens), {HIST_MERGE}(ttft_hist) "
        f"FROM {conventions.REQUESTS_5M} WHERE deployment = {{d:String}}", {"d": deployment}).row(0)
    goodput = store.query(
        f"SELECT slot, ttft_bucket, tpot_bucket, sum(n) FROM {conventions.GOODPUT_5M} WHERE deployment = {{d:String}} "
        "GROUP BY ALL ORDER BY ALL", {"d": deployment}).rows()
    hourly = store.query(
        f"SELECT slot, sum(requests), sum(error), {HIST_MERGE}(ttft_hist) FROM {conventions.REQUESTS_1H} "
        "WHERE deployment = {d:String} GROUP BY slot ORDER BY slot", {"d": deployment}).rows()
    return requests, goodput, hourly


def test_a_load_cut_short_while_publishing_is_undone_and_undoing_it_twice_changes_nothing(store, monkeypatch):
    deployment = "chat-llama3-8b-use"  # a demo deployment: its rollup rows must be rebuilt exactly
    before = _deployment_rollup(store, deployment), store.scalar(f"SELECT count() FROM {conventions.REQUESTS}")
    frame = store.query(f"SELECT * EXCEPT {LOAD_ID} FROM {conventions.REQUESTS} WHERE deployment = {{d:String}} LIMIT 5000",
                        {"d": deployment})
    real_write = journal._write
    published = []

    def dies_before_done(store_, load_id, table, state, **fields):
        if state == journal.DONE:  # every row reached raw and rollup; die as a kill would
            published.append(store.scalar(f"SELECT count() FROM {conventions.REQUESTS} WHERE {LOAD_ID} = {{id:String}}",
                                          {"id": load_id}))
            raise KeyboardInterrupt
        real_write(store_, load_id, table, state, **fields)

    monkeypatch.setattr(journal, "_write", dies_before_done)
    with pytest.raises(KeyboardInterrupt):
        with loading(store, ["cut short"]) as load:
            load.add(conventions.REQUESTS, frame)
            load_id = load.load_id
    assert published == [frame.height]
    assert store.scalar(f"SELECT count() FROM {conventions.REQUESTS} WHERE {LOAD_ID} = {{id:String}}", {"id": load_id}) == 0
    assert (_deployment_rollup(store, deployment), store.scalar(f"SELECT count() FROM {conventions.REQUESTS}")) == before
    monkeypatch.undo()
    journal.rollback(store, load_id, ROLLUPS)  # a second recovery, as after a kill during the first
    assert (_deployment_rollup(store, deployment), store.scalar(f"SELECT count() FROM {conventions.REQUESTS}")) == before


def test_hourly_reads_on_whole_hours_give_the_same_frames_as_the_5_minute_rollup(store):
    from analytics.store import queries

    end = queries.data_end(store).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=3)
    for step in (3600, 86400):
        params = queries._params(start, end, None, None) | {"step": step}
        five = store.query(queries._slots_sql(conventions.LATENCY_FIELDS, conventions.REQUESTS_5M), params)
        assert queries._table(start, end, step) == conventions.REQUESTS_1H
        assert five.height > 0
        assert queries.request_slots(store, start, end, step_seconds=step).drop("e2e_ms_sum").equals(
            five.drop("e2e_ms_sum"))
        counts = store.query(queries._counts_sql(conventions.REQUESTS_5M), params)
        assert queries.request_counts(store, start, end, step).equals(counts)
    totals = store.query(queries._totals_sql(conventions.LATENCY_FIELDS, conventions.REQUESTS_5M), queries._params(start, end, None, None))
    assert queries.request_totals(store, start, end).drop("e2e_ms_sum").equals(totals.drop("e2e_ms_sum"))
    assert queries._table(start + timedelta(minutes=5), end) == conventions.REQUESTS_5M  # not on whole hours
