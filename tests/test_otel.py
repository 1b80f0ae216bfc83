"""OpenTelemetry request spans as a source of requests (analytics.ingest.otel, .spans, store.otel, demo --as otel).

The chDB tests use the session store with span tables and services of their own, in 2024 (before
the demo fleet's data), so the demo's numbers are untouched; the CLI tests get stores of their own.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from analytics.errors import InputError
from analytics.ingest import otel as ingest_otel
from analytics.ingest import spans
from analytics.ingest.demo import otel as demo_otel
from analytics.store import otel as store_otel
from analytics.store.queries import request_totals

ROOT = Path(__file__).resolve().parent.parent
NS = 1_000_000_000
MAP = pa.map_(pa.string(), pa.string())
SPAN_SCHEMA = pa.schema([("Timestamp", pa.timestamp("ns", "UTC")), ("SpanName", pa.string()),
                         ("ServiceName", pa.string()), ("ResourceAttributes", MAP), ("SpanAttributes", MAP),
                         ("Duration", pa.uint64()), ("StatusCode", pa.string())])


def ns(when: datetime) -> int:
    return int(when.timestamp()) * NS


def span(ts: datetime, service: str, attributes: dict, status: str = "Unset", name: str = "llm_request",
         resource: dict | None = None, duration_ms: float = 1000.0) -> dict:
    """One exporter row as vLLM would write it (only the columns the source reads)."""
    return {"Timestamp": ts, "SpanName": name, "ServiceName": service,
            "ResourceAttributes": list((resource or {"cloud.region": "us-east"}).items()),
            "SpanAttributes": list(attributes.items()), "Duration": int(duration_ms * 1e6), "StatusCode": status}


def vllm(ttft: float = 0.25, e2e: float = 2.0, decode: float = 1.5, prompt: int = 100, completion: int = 31,
         **extra: str) -> dict:
    """vLLM's llm_request attributes (vllm/tracing.py), latencies in seconds."""
    return {"gen_ai.response.model": "llama", "gen_ai.latency.time_to_first_token": str(ttft),
            "gen_ai.latency.e2e": str(e2e), "gen_ai.latency.time_in_queue": "0.05",
            "gen_ai.latency.time_in_model_decode": str(decode),
            "gen_ai.usage.prompt_tokens": str(prompt), "gen_ai.usage.completion_tokens": str(completion), **extra}


def insert_spans(store, table: str, rows: list[dict]) -> None:
    store.insert(table, pa.Table.from_pylist(rows, schema=SPAN_SCHEMA))


def requests_of(store, deployment: str) -> pl.DataFrame:
    return store.query("SELECT * FROM requests WHERE deployment = {d:String} ORDER BY ts", {"d": deployment})


# --- the mapping, without a store ---------------------------------------------------------------

def test_attribute_names_and_filters_reach_sql_only_as_parameters():
    hostile = "x'] , 1) FROM system.users --"
    select, params = store_otel.request_select("otel_traces", hostile, [hostile], {**ingest_otel.DEFAULT_ATTRIBUTES, "model": (hostile,)},
                                      ingest_otel.TIMEOUT_VALUES, ingest_otel.REJECTED_VALUES, ingest_otel.ERROR_STATUS_CODES)
    assert hostile not in select
    assert params["span"] == hostile and params["services"] == [hostile] and hostile in params.values()


def test_every_requests_column_is_mapped_and_a_tpot_attribute_takes_precedence_over_the_decode_time():
    select, params = store_otel.request_select("t", "s", [], {**ingest_otel.DEFAULT_ATTRIBUTES, "tpot_ms": ("my.tpot",)},
                                      ingest_otel.TIMEOUT_VALUES, ingest_otel.REJECTED_VALUES, ingest_otel.ERROR_STATUS_CODES)
    for column in ("ts", "deployment", "status", "ttft_ms", "tpot_ms", "e2e_ms", "input_tokens", "weight"):
        assert f" AS {column}" in select
    assert "my.tpot" in params.values() and "gen_ai.latency.time_in_model_decode" in params.values()


def test_an_attribute_map_overrides_the_vllm_defaults(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("deployment: k8s.deployment.name\nmodel: [gen_ai.request.model]\nregion: []\n")
    source = ingest_otel.source(attribute_map=path)
    assert source.attributes["deployment"] == ("k8s.deployment.name",)
    assert source.attributes["model"] == ("gen_ai.request.model",)
    assert source.attributes["region"] == ()
    assert source.attributes["ttft_ms"] == ("gen_ai.latency.time_to_first_token",)


@pytest.mark.parametrize(("text", "message"), [
    ("ttft: gen_ai.latency.time_to_first_token\n", r"map.yaml: unknown key 'ttft' \(one of deployment, "),
    ("model: {name: x}\n", r"map.yaml: key 'model': expected an attribute name or a list of them"),
    ("model: [a, 3]\n", r"map.yaml: key 'model': expected an attribute name"),
    ("- model\n", r"map.yaml: expected a mapping of field: attribute, got list"),
    ("model: [a\n", r"map.yaml: not valid YAML"),
], ids=["an unknown field", "a mapping instead of a name", "a number among the names", "a list at the top",
        "broken YAML"])
def test_a_bad_attribute_map_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as raised:
        ingest_otel.source(attribute_map=path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"SpanAttributes": "String"}, r"t.SpanAttributes has type String; expected Map\("),
    ({"Duration": "Float64"}, r"t.Duration has type Float64; expected UInt64 or Int64"),
    ({"ResourceAttributes": None}, r"t: no column ResourceAttributes"),
], ids=["text attribute columns", "a float duration", "no resource attributes"])
def test_a_span_table_of_another_shape_is_refused_naming_the_column(change, message):
    columns = {"Timestamp": "DateTime64(9)", "ServiceName": "LowCardinality(String)", "SpanName": "String",
               "StatusCode": "LowCardinality(String)", "Duration": "UInt64",
               "SpanAttributes": "Map(String, String)", "ResourceAttributes": "Map(LowCardinality(String), String)"}
    ingest_otel.check_span_table("t", columns)  # older exporters' Map(String, String) keys are read too
    columns = {k: v for k, v in {**columns, **change}.items() if v is not None}
    with pytest.raises(InputError, match=message):
        ingest_otel.check_span_table("t", columns)


@pytest.mark.parametrize("name", ["otel_traces; DROP TABLE requests", "a.b.c", "1table", ""])
def test_a_table_name_that_is_not_an_identifier_is_refused(name):
    with pytest.raises(InputError, match="not a table name"):
        ingest_otel.source(table=name)


# --- against the embedded engine ----------------------------------------------------------------

def test_the_exporter_ddl_makes_a_table_the_source_accepts(store):
    store_otel.create_traces_table(store, "otel_ddl_check")
    columns = store_otel.describe(store, "otel_ddl_check")
    ingest_otel.check_span_table("otel_ddl_check", columns)
    assert columns["Events.Attributes"] == "Array(Map(LowCardinality(String), String))"


def test_spans_inserted_after_the_source_was_added_reach_requests_and_the_rollup_with_no_command(store):
    store_otel.create_traces_table(store, "otel_live")
    source = ingest_otel.source(table="otel_live", services=["otel-live-a"])
    added = spans.add_source(store, source, ns(datetime(2024, 3, 1, tzinfo=UTC)))
    assert added.created
    t = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    insert_spans(store, "otel_live", [
        span(t, "otel-live-a", vllm(), resource={"cloud.region": "eu-west", "service.version": "v7"}),
        span(t + timedelta(seconds=1), "otel-live-a", vllm(**{"SampleRate": "10"})),
        span(t + timedelta(seconds=2), "otel-live-a", vllm(completion=0, **{"error.type": "timeout"}), "Error"),
        span(t + timedelta(seconds=3), "otel-live-a", vllm(**{"http.response.status_code": "429"}), "Error"),
        span(t + timedelta(seconds=4), "otel-live-a", vllm(), "Error"),
        span(t + timedelta(seconds=5), "otel-live-a", {"gen_ai.usage.output_tokens": "5"}, duration_ms=80),
        span(t, "otel-live-a", vllm(), name="chat_completion"),  # not a request span
        span(t, "otel-live-b", vllm()),  # another service
        span(datetime(2024, 2, 1, tzinfo=UTC), "otel-live-a", vllm()),  # before the cut-off: the backfill's
    ])
    rows = requests_of(store, "otel-live-a")
    assert rows["status"].to_list() == ["ok", "ok", "timeout", "rejected", "error", "ok"]
    first = rows.row(0, named=True)
    assert (first["region"], first["model"], first["model_version"]) == ("eu-west", "llama", "v7")
    assert (first["ttft_ms"], first["e2e_ms"], first["queue_ms"]) == (250.0, 2000.0, 50.0)
    assert first["tpot_ms"] == 50.0  # 1.5 s of decode over the 30 tokens after the first
    assert (first["input_tokens"], first["output_tokens"]) == (100, 31)
    assert rows["weight"].to_list() == [1, 10, 1, 1, 1, 1]
    assert rows["tpot_ms"][2] == 0.0  # no token after the first: no decode phase to judge, as file ingest derives it
    assert (rows["e2e_ms"][5], rows["ttft_ms"][5]) == (80.0, None)  # no e2e attribute: the span's duration
    totals = request_totals(store, t - timedelta(hours=1), t + timedelta(hours=1), ["otel-live-a"]).row(0, named=True)
    assert (totals["requests"], totals["ok"], totals["timeout"], totals["rejected"], totals["error"]) == (15, 12, 1, 1, 1)
    assert sum(totals["ttft_hist"]) == 11  # the ok requests with a ttft, by weight


def test_backfill_maps_what_was_there_once_however_often_it_runs(store):
    store_otel.create_traces_table(store, "otel_past")
    start = datetime(2024, 4, 1, 6, tzinfo=UTC)
    insert_spans(store, "otel_past", [span(start + timedelta(hours=7 * i), "otel-past", vllm()) for i in range(10)])
    source = ingest_otel.source(table="otel_past")
    cutoff = ns(datetime(2024, 4, 10, tzinfo=UTC))
    spans.add_source(store, source, cutoff)
    first = spans.backfill(store, source, batch_hours=24)
    assert (first.rows, first.batches, first.skipped) == (10, 3, 0)  # 63 hours of spans in 3 days
    store.command("OPTIMIZE TABLE ingest_journal FINAL")  # a merged journal keeps one row per load
    again = spans.add_source(store, source, cutoff + 3600 * NS)
    assert not again.created and again.cutoff_ns == cutoff
    second = spans.backfill(store, source, batch_hours=24)
    assert (second.rows, second.batches, second.skipped) == (0, 0, 3)
    assert requests_of(store, "otel-past").height == 10
    totals = request_totals(store, start, start + timedelta(days=4), ["otel-past"])
    assert totals["requests"].to_list() == [10]


def test_adding_a_source_again_with_another_mapping_is_refused(store):
    store_otel.create_traces_table(store, "otel_twice")
    spans.add_source(store, ingest_otel.source(table="otel_twice"), ns(datetime(2024, 5, 1, tzinfo=UTC)))
    with pytest.raises(InputError, match="requests_from_otel_twice_mv already maps otel_twice with another mapping"):
        spans.add_source(store, ingest_otel.source(table="otel_twice", span="other"), ns(datetime(2024, 5, 2, tzinfo=UTC)))


def test_a_missing_span_table_is_one_clear_line(store):
    with pytest.raises(InputError, match=r"^--table otel_nowhere: no such table in chdb "):
        spans.add_source(store, ingest_otel.source(table="otel_nowhere"), 0)


def test_the_demo_conversion_gives_back_the_same_rows():
    frame = pl.DataFrame({
        "ts": [datetime(2024, 1, 1, tzinfo=UTC)] * 2, "deployment": ["d"] * 2, "model": ["m"] * 2,
        "model_version": ["v1"] * 2, "region": ["us-east"] * 2, "gpu_type": ["H100"] * 2, "replica": ["r0"] * 2,
        "status": ["ok", "rejected"], "queue_ms": [1.5, 0.0], "ttft_ms": [123.4, None], "tpot_ms": [21.7, None],
        "e2e_ms": [700.1, 2.0], "input_tokens": [10, 10], "output_tokens": [27, 0], "weight": [100, 100],
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), **{c: pl.Float32 for c in ("queue_ms", "ttft_ms", "tpot_ms",
                                                                                   "e2e_ms")},
                         "input_tokens": pl.UInt32, "output_tokens": pl.UInt32, "weight": pl.UInt32})
    table = demo_otel.spans(frame, np.random.default_rng(1))
    attributes = dict(table.column("SpanAttributes")[1].as_py())
    assert table.column("StatusCode").to_pylist() == ["Unset", "Error"]
    assert attributes["error.type"] == "rejected" and attributes["SampleRate"] == "100"
    assert "gen_ai.latency.time_to_first_token" not in attributes
    assert dict(table.column("ResourceAttributes")[0].as_py())["gpu.type"] == "H100"


# --- the command line, each with a store of its own ---------------------------------------------

def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_the_command_line_says_in_one_line_what_is_wrong(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("ttft: x\n")
    result = cli(tmp_path / "db", "source", "add", "otel-traces", "--attribute-map", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {bad}: unknown key 'ttft'")
    result = cli(tmp_path / "db", "source", "add", "otel-traces")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: --table otel_traces: no such table in chdb ")
    assert len(result.stderr.strip().splitlines()) == 1


# The demo as spans, gauges and histograms against the demo seeded directly: tests/test_otel_metrics.py.
