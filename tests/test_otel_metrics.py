"""OpenTelemetry metrics as sources: DCGM gauges into gpu_metrics, vLLM histograms as SLIs
(analytics.ingest.gauges, .histograms, store.otel_metrics, slo.exported, demo --as otel / otel-metrics).

The chDB tests use the session store with tables and deployments of their own, in 2024 (before the
demo fleet's data), so the demo's numbers are untouched; the CLI tests get stores of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from analytics.errors import InputError
from analytics.ingest import gauges, histograms
from analytics.slo.evaluation import evaluate_all
from analytics.slo.files import parse_text
from analytics.slo.pipeline import load_data
from analytics.store import otel as store_otel
from analytics.store import otel_metrics as store_otel_metrics

ROOT = Path(__file__).resolve().parent.parent
NS = 1_000_000_000
MAP = pa.map_(pa.string(), pa.string())
GAUGE_SCHEMA = pa.schema([("ServiceName", pa.string()), ("MetricName", pa.string()),
                          ("TimeUnix", pa.timestamp("ns", "UTC")), ("Value", pa.float64()),
                          ("Attributes", MAP), ("ResourceAttributes", MAP)])
HIST_SCHEMA = pa.schema([("ServiceName", pa.string()), ("MetricName", pa.string()),
                         ("StartTimeUnix", pa.timestamp("ns", "UTC")), ("TimeUnix", pa.timestamp("ns", "UTC")),
                         ("Count", pa.uint64()), ("BucketCounts", pa.list_(pa.uint64())),
                         ("ExplicitBounds", pa.list_(pa.float64())), ("AggregationTemporality", pa.int32()),
                         ("Attributes", MAP), ("ResourceAttributes", MAP)])


def ns(when: datetime) -> int:
    return int(when.timestamp()) * NS


def gauge(ts: datetime, metric: str, value: float, gpu: str = "0", pod: str = "gauge-live-6f7d9c8b5-abcde",
          host: str = "node-a") -> dict:
    """One DCGM exporter gauge row as the collector's Prometheus receiver stores it."""
    return {"ServiceName": "dcgm-exporter", "MetricName": metric, "TimeUnix": ts, "Value": value,
            "Attributes": [("Hostname", host), ("gpu", gpu), ("modelName", "H100-80GB"), ("pod", pod),
                           ("UUID", "GPU-1234")],
            "ResourceAttributes": [("cloud.region", "eu-west")]}


def gpu_rows(store, deployment: str):
    return store.query("SELECT * FROM gpu_metrics WHERE deployment = {d:String} ORDER BY ts, gpu_util",
                       {"d": deployment})


# --- DCGM gauges -----------------------------------------------------------------------------------

def test_the_exporter_ddl_makes_metric_tables_the_sources_accept(store):
    store_otel_metrics.create_table(store, store_otel_metrics.gauge_table_ddl("otel_gauge_ddl"))
    store_otel_metrics.create_table(store, store_otel_metrics.histogram_table_ddl("otel_hist_ddl"))
    gauges.check_columns("otel_gauge_ddl", store_otel.describe(store, "otel_gauge_ddl"), gauges.REQUIRED_COLUMNS, "gauge")
    columns = store_otel.describe(store, "otel_hist_ddl")
    gauges.check_columns("otel_hist_ddl", columns, histograms.REQUIRED_COLUMNS, "histogram")
    assert columns["Exemplars.TraceId"] == "Array(String)" and columns["AggregationTemporality"] == "Int32"


def test_dcgm_gauges_inserted_after_the_source_was_added_reach_gpu_metrics_and_the_rollup_with_no_command(store):
    store_otel_metrics.create_table(store, store_otel_metrics.gauge_table_ddl("otel_gauge_live"))
    src = gauges.source(table="otel_gauge_live")
    added = gauges.add_source(store, src, ns(datetime(2024, 6, 1, tzinfo=UTC)))
    assert added.created and added.view == "gpu_metrics_from_otel_gauge_live_mv"
    t = datetime(2024, 6, 2, 10, 0, tzinfo=UTC)
    later = t + timedelta(minutes=1)
    store.insert("otel_gauge_live", pa.Table.from_pylist([
        gauge(t, "DCGM_FI_DEV_GPU_UTIL", 40.0), gauge(t, "DCGM_FI_PROF_SM_ACTIVE", 0.5),
        gauge(t, "DCGM_FI_DEV_FB_USED", 1000.0), gauge(t, "DCGM_FI_DEV_FB_FREE", 3000.0),
        gauge(t, "DCGM_FI_DEV_POWER_USAGE", 300.0),
        gauge(t, "DCGM_FI_DEV_GPU_TEMP", float(0x7FFFFFF0)),  # DCGM's int32 blank: no data
        gauge(later, "DCGM_FI_DEV_GPU_UTIL", 60.0),
        gauge(later, "DCGM_FI_PROF_SM_ACTIVE", float(2**47)),  # DCGM's float blank: no data
        gauge(later, "DCGM_FI_PROF_SM_OCCUPANCY", 1.0000005),  # float round-off over 1: clipped to 1
        gauge(later, "DCGM_FI_PROF_DRAM_ACTIVE", 1.5),  # out of range: left out, the insert still succeeds
        gauge(later, "DCGM_FI_DEV_FB_USED", 2000.0),
        gauge(t, "DCGM_FI_DEV_GPU_UTIL", 10.0, gpu="not-an-index"),  # no GPU index: not a GPU sample
        gauge(t, "DCGM_FI_DEV_GPU_UTIL", 10.0, pod="", host="node-b"),  # no pod: the ServiceName
        gauge(t, "SOME_OTHER_METRIC", 10.0),
    ], schema=GAUGE_SCHEMA))
    # The same scrape's power reading arrives in a second insert (the exporter batches as it likes).
    store.insert("otel_gauge_live", pa.Table.from_pylist([gauge(later, "DCGM_FI_DEV_POWER_USAGE", 500.0)],
                                                         schema=GAUGE_SCHEMA))
    rows = gpu_rows(store, "gauge-live")
    assert rows["ts"].to_list() == [t, later, later]  # the split scrape is two rows
    first, second, split = (rows.row(i, named=True) for i in range(3))  # NULL gpu_util sorts last
    assert (first["node"], first["gpu"], first["gpu_type"], first["region"]) == ("node-a", 0, "H100-80GB", "eu-west")
    assert (first["gpu_util"], first["sm_active"], first["fb_used_mib"], first["fb_total_mib"]) == (40, 0.5, 1000, 4000)
    assert (first["power_w"], first["temp_c"]) == (300.0, None)
    assert (second["gpu_util"], second["sm_active"], second["sm_occupancy"], second["dram_active"]) == (60, None, 1, None)
    assert (second["fb_used_mib"], second["fb_total_mib"], second["power_w"]) == (2000, None, None)
    assert split["power_w"] == 500 and split["gpu_util"] is None
    assert gpu_rows(store, "dcgm-exporter")["node"].to_list() == ["node-b"]
    hour = store.query("SELECT sum(samples) AS samples, sum(gpu_util_sum) / sum(gpu_util_n) AS util, "
                       "sum(power_w_sum) / sum(power_w_n) AS power, max(fb_used_mib_max) AS peak "
                       "FROM gpu_metrics_1h WHERE deployment = 'gauge-live'").row(0, named=True)
    # Means are sum / n per field: the split scrape changes no mean, only the row count.
    assert (hour["util"], hour["power"], hour["peak"], hour["samples"]) == (50.0, 400.0, 2000.0, 3)


def test_gauge_backfill_pivots_what_was_there_once_however_often_it_runs(store):
    store_otel_metrics.create_table(store, store_otel_metrics.gauge_table_ddl("otel_gauge_past"))
    start = datetime(2024, 7, 1, 6, tzinfo=UTC)
    store.insert("otel_gauge_past", pa.Table.from_pylist(
        [gauge(start + timedelta(hours=7 * i), name, 50.0, pod="gauge-past-6f7d9c8b5-abcde")
         for i in range(8) for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED")], schema=GAUGE_SCHEMA))
    src = gauges.source(table="otel_gauge_past")
    gauges.add_source(store, src, ns(datetime(2024, 7, 10, tzinfo=UTC)))
    first = gauges.backfill(store, src, batch_hours=24)
    assert (first.rows, first.batches, first.skipped) == (8, 3, 0)  # 49 hours of samples in 3 days
    store.command("OPTIMIZE TABLE ingest_journal FINAL")
    second = gauges.backfill(store, src, batch_hours=24)
    assert (second.rows, second.batches, second.skipped) == (0, 0, 3)
    assert gpu_rows(store, "gauge-past").height == 8


def test_an_attribute_map_for_gauges_names_only_gauge_labels(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("deployment: [k8s.deployment.name]\nnode: host\n")
    src = gauges.source(attribute_map=path)
    assert src.attributes["deployment"] == ("k8s.deployment.name",) and src.attributes["node"] == ("host",)
    path.write_text("model: x\n")
    with pytest.raises(InputError, match=r"map.yaml: unknown key 'model' \(one of deployment, pod, node, gpu, "):
        gauges.source(attribute_map=path)


def test_a_gauge_table_of_another_shape_is_refused_naming_the_column(store):
    store.command("CREATE TABLE IF NOT EXISTS otel_gauge_json (TimeUnix DateTime64(9), ServiceName String, "
                  "MetricName String, Value Float64, Attributes JSON, ResourceAttributes JSON) "
                  "ENGINE = MergeTree ORDER BY TimeUnix")
    with pytest.raises(InputError, match=r"otel_gauge_json.Attributes is JSON"):
        gauges.add_source(store, gauges.source(table="otel_gauge_json"), 0)


# --- vLLM histograms -------------------------------------------------------------------------------

T0 = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)  # a slot start
BOUNDS = [0.1, 0.5, 1.0]  # seconds: 100, 500, 1000 ms


def point(series: str, start: datetime, at: datetime, buckets: list[int], metric: str = "vllm:time_to_first_token_seconds",
          temporality: int = 2) -> dict:
    """One cumulative histogram point of one vLLM replica (pod) of deployment hist-dep."""
    return {"ServiceName": "vllm", "MetricName": metric, "StartTimeUnix": start, "TimeUnix": at,
            "Count": sum(buckets), "BucketCounts": buckets, "ExplicitBounds": BOUNDS,
            "AggregationTemporality": temporality, "Attributes": [("model_name", "llama"), ("pod", series)],
            "ResourceAttributes": [("k8s.deployment.name", "hist-dep"), ("cloud.region", "us-east")]}


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


HAND_POINTS = [
    # a: started at T0, seen from its first minute (counts from zero); restarts at T0 + 10 min
    point("a", T0, minutes(1), [2, 1, 0, 0]),
    point("a", T0, minutes(6), [5, 2, 1, 0]),  # +[3, 1, 1, 0]
    point("a", minutes(10), minutes(11), [1, 0, 0, 1]),  # new StartTimeUnix: +[1, 0, 0, 1] from zero
    point("a", minutes(10), minutes(16), [4, 1, 0, 1]),  # +[3, 1, 0, 0]
    # b: running long before we saw it: its first point is the baseline
    point("b", T0 - timedelta(days=3), minutes(6), [10, 10, 10, 10]),
    point("b", T0 - timedelta(days=3), minutes(8), [11, 10, 10, 10]),  # +[1, 0, 0, 0] within the slot
    point("b", T0 - timedelta(days=3), minutes(11), [12, 10, 10, 10]),  # +[1, 0, 0, 0]
    # c: its count drops with the same StartTimeUnix (a reset the start time does not show)
    point("c", T0 - timedelta(days=3), minutes(1), [7, 0, 0, 0]),  # baseline
    point("c", T0 - timedelta(days=3), minutes(6), [10, 0, 0, 0]),  # +[3, 0, 0, 0]
    point("c", T0 - timedelta(days=3), minutes(11), [1, 0, 0, 0]),  # dropped: +[1, 0, 0, 0] from zero
    point("d", T0, minutes(6), [100, 0, 0, 0], temporality=1),  # delta temporality: not read
]
# Per bucket (<= 100 ms, <= 500, <= 1000, more): a [9, 3, 1, 1] + b [2, 0, 0, 0] + c [4, 0, 0, 0] = [15, 3, 1, 1]:
# 20 events, 15 <= 100 ms, 18 <= 500 ms, 19 <= 1000 ms.


def hand_slos(*thresholds: float):
    text = "slos:\n" + "".join(
        f"  - name: hist-{t:g}\n    deployments: hist-dep\n    sli: {{latency: {{field: ttft_ms, threshold_ms: {t:g}}}}}\n"
        "    target: 90\n    window: 1d\n" for t in thresholds)
    return parse_text(text, "test")


@pytest.fixture(scope="module")
def hand_histograms(store):
    store_otel_metrics.create_table(store, store_otel_metrics.histogram_table_ddl("otel_hist_hand"))
    src = histograms.source(table="otel_hist_hand")
    cutoff = minutes(9)  # the source is added at 12:09: what the exporter wrote before is backfilled
    before = [p for p in HAND_POINTS if p["TimeUnix"] < cutoff]
    store.insert("otel_hist_hand", pa.Table.from_pylist(before, schema=HIST_SCHEMA))
    histograms.add_source(store, src, ns(cutoff))
    store.insert("otel_hist_hand", pa.Table.from_pylist([p for p in HAND_POINTS if p not in before],
                                                        schema=HIST_SCHEMA))  # through the view
    histograms.backfill(store, src, batch_hours=1)
    histograms.backfill(store, src, batch_hours=1)  # a rerun changes nothing (argMin / argMax of the same points)
    histograms.backfill(store, src, batch_hours=24)  # nor does one with other batches (5-minute slots never split)
    return store


@pytest.mark.parametrize(("threshold", "attainment", "bounds", "exact"), [
    (500, 18 / 20, (18 / 20, 18 / 20), True),  # a bucket bound: exact
    (100, 15 / 20, (15 / 20, 15 / 20), True),
    (300, (15 + 0.5 * 3) / 20, (15 / 20, 18 / 20), False),  # between 100 and 500 ms: linear inside the bucket
    (2000, 19 / 20, (19 / 20, 20 / 20), False),  # above the last bound: nothing known beyond 1 s
], ids=["at 500 ms", "at 100 ms", "between bounds", "above the last bound"])
def test_histogram_slis_difference_cumulative_buckets_through_resets_exact_at_the_bounds(
        hand_histograms, threshold, attainment, bounds, exact):
    slos = hand_slos(threshold)
    at = minutes(20)
    [e] = evaluate_all(slos, load_data(hand_histograms, slos, at), at)
    assert e.counts.source == "histograms"
    assert (e.status.valid, e.status.exact) == (20, exact)
    assert e.status.attainment == pytest.approx(attainment)
    assert (e.status.attainment_lower, e.status.attainment_upper) == pytest.approx(bounds)


def test_histogram_events_land_in_the_slot_of_their_last_point(hand_histograms):
    slos = hand_slos(500)
    at = minutes(20)
    [e] = evaluate_all(slos, load_data(hand_histograms, slos, at), at)
    grid, valid = e.grid, e.counts.valid
    first = grid.index(T0)
    # slot 0: a [2, 1]; slot 1: a +5, b +1, c +3; slot 2: a +2 (reset), b +1, c +1 (drop); slot 3: a +4
    assert valid[first:first + 4].tolist() == [3, 9, 4, 4]


# --- the command line, each with a store of its own ---------------------------------------------

def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


DEMO = ("demo", "--requests", "20000", "--days", "1", "--seed", "11", "--end", "2026-11-01T00:00:00Z",
        "--scrape-seconds", "300", "--no-forecasts")


def outputs(db: Path, mode: str) -> tuple[list, list, str]:
    seeded = cli(db, *DEMO, "--as", mode)
    assert seeded.returncode == 0, seeded.stderr
    slo, gpu = cli(db, "slo", "--json"), cli(db, "gpu", "--json")
    assert slo.returncode == 0 and gpu.returncode == 0, slo.stderr + gpu.stderr
    return json.loads(slo.stdout), json.loads(gpu.stdout), seeded.stdout


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    """`slo --json` and `gpu --json` of the demo seeded straight into our tables."""
    return outputs(tmp_path_factory.mktemp("direct") / "db", "tables")


def test_the_demo_as_opentelemetry_gives_the_same_slo_and_gpu_numbers_as_the_demo_seeded_directly(direct, tmp_path):
    slos, gpu, said = outputs(tmp_path / "db", "otel")
    assert "backfilled 19," in said and "GPU samples from gauges" in said and "histogram points" in said
    assert len(direct[0]) >= 3 and any(s["attainment"] is not None and s["attainment"] < 1 for s in direct[0])
    # Spans and histograms both exist for every deployment: the spans (requests) are used.
    assert {s["source"] for s in slos if s["composite"] is None} == {"requests"}
    # Span attributes carry Float32 latencies as Float64 seconds text, gauges carry Float32 values as
    # Float64: both parse back to the same Float32, so every number is identical, not merely close.
    assert slos == direct[0]
    assert gpu == direct[1]


def test_the_demo_as_metrics_only_judges_latency_from_histograms_within_their_bounds(direct, tmp_path):
    slos, gpu, _ = outputs(tmp_path / "db", "otel-metrics")
    # Every figure from the DCGM samples is the direct demo's; those from requests are not there.
    from_requests = {"output_tokens", "cost_per_1m_output_tokens", "output_tokens_per_gpu_s", "goodput_per_gpu",
                     "slo", "mfu_estimate", "missing"}
    assert [{k: v for k, v in d.items() if k not in from_requests} for d in gpu["deployments"]] == \
        [{k: v for k, v in d.items() if k not in from_requests} for d in direct[1]["deployments"]]
    assert all(d["output_tokens"] == 0 for d in gpu["deployments"])
    for mine, theirs in zip(slos, direct[0], strict=True):
        assert mine["name"] == theirs["name"]
        if mine["composite"] is not None:  # judged from its objectives, checked below on their own
            continue
        latency = mine["sli"].startswith(("ttft", "tpot", "e2e")) and " and " not in mine["sli"]
        if not latency:  # availability and goodput (TTFT and TPOT of one request) are not in histograms
            assert (mine["state"], mine["valid"]) == ("no data", 0), mine["name"]
            continue
        assert mine["source"] == "histograms" and mine["valid"] == theirs["valid"], mine["name"]
        low, high = mine["attainment_bounds"]
        assert low - 1e-12 <= theirs["attainment"] <= high + 1e-12, mine["name"]
        if mine["exact"]:  # the threshold is one of vLLM's bucket bounds (1 s for TTFT)
            assert mine["attainment"] == pytest.approx(theirs["attainment"], abs=1e-12), mine["name"]
    assert any(s["exact"] and s["source"] == "histograms" for s in slos)


def test_the_histogram_rollup_is_replicated_and_sharded_by_deployment_on_a_cluster(store):
    from analytics.store.ddl import SINGLE, Layout

    [single] = store_otel_metrics.histogram_rollup_ddl(SINGLE)
    assert "ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)" in single
    local, distributed = store_otel_metrics.histogram_rollup_ddl(Layout("prod", "telemetry"))
    assert local.startswith("CREATE TABLE IF NOT EXISTS otel_histogram_5m_local ON CLUSTER prod (")
    assert "ENGINE = ReplicatedAggregatingMergeTree(" in local
    assert distributed.endswith("Distributed(prod, 'telemetry', otel_histogram_5m_local, cityHash64(deployment))")
    for statement in (single, local, distributed):  # parsed by the real engine
        assert store.scalar("SELECT formatQuery({q:String})", {"q": statement})
