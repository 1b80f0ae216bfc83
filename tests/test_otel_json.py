"""Span tables in the exporter's JSON mode (`json: true`: JSON-typed attribute columns) map into
requests exactly as the default Map schema does (analytics.store.attributes).

chDB (26.9 here) has the JSON type, so the JSON table is real: the exporter's span DDL with JSON
attribute columns, holding typed values (numbers stay numbers), beside its Map twin holding the
same spans as text. Both go through the source view (spans inserted after the source was added)
and the backfill (spans from before), in 2024 with services of their own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from analytics.ingest import otel as ingest_otel
from analytics.ingest import spans
from analytics.store import attributes as store_attributes
from analytics.store import otel as store_otel
from tests.test_otel import insert_spans, ns, requests_of, span, vllm

START = datetime(2024, 6, 1, tzinfo=UTC)
JSON_COLUMNS = ("Timestamp DateTime64(9), SpanName String, ServiceName String, SpanAttributes JSON, "
                "ResourceAttributes JSON, Duration UInt64, StatusCode String")


def json_traces_table(store, table: str) -> None:
    """The exporter's span table with JSON attribute columns (its `json: true` mode); the Map-only
    skip indexes (mapKeys/mapValues) have no JSON counterpart and are left out."""
    ddl = store_otel.traces_table_ddl(table).replace("Map(LowCardinality(String), String)", "JSON")
    store.command("\n".join(line for line in ddl.splitlines() if "mapKeys" not in line and "mapValues" not in line))


def typed(value: str):
    """An attribute as the JSON mode keeps it: a number when it is one."""
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def insert_json_spans(store, table: str, rows: list[dict]) -> None:
    lines = [json.dumps({**row, "Timestamp": row["Timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f"),
                         "SpanAttributes": {k: typed(v) for k, v in row["SpanAttributes"]},
                         "ResourceAttributes": {k: typed(v) for k, v in row["ResourceAttributes"]}}) for row in rows]
    store.command(f"INSERT INTO {table} (Timestamp, SpanName, ServiceName, SpanAttributes, ResourceAttributes, "
                  f"Duration, StatusCode) SELECT * FROM format(JSONEachRow, '{JSON_COLUMNS}', {{rows:String}})",
                  {"rows": "\n".join(lines)})


def fleet(service: str, at: datetime) -> list[dict]:
    """Requests of every kind: ok, a timeout and a rejection by error type and HTTP status, an error
    status, a model from the resource, a one-token answer and a sampled span."""
    return [
        span(at, service, vllm()),
        span(at + timedelta(seconds=1), service, vllm(ttft=0.5, e2e=30.0, **{"error.type": "timeout"})),
        span(at + timedelta(seconds=2), service, vllm(**{"http.response.status_code": "429"})),
        span(at + timedelta(seconds=3), service, vllm(), status="Error"),
        span(at + timedelta(seconds=4), service, {"gen_ai.latency.e2e": "0.75", "SampleRate": "10"},
             resource={"cloud.region": "eu-west", "gen_ai.response.model": "qwen", "service.version": "v7"}),
        span(at + timedelta(seconds=5), service, vllm(completion=1)),
    ]


def test_json_attribute_columns_give_the_same_requests_as_map_columns_live_and_backfilled(store):
    store_otel.create_traces_table(store, "otel_twin_map")
    json_traces_table(store, "otel_twin_json")
    assert set(store_attributes.kinds(store_otel.describe(store, "otel_twin_json")).values()) == {store_attributes.JSON}
    cutoff = ns(START + timedelta(days=1))
    for kind, table, insert in (("map", "otel_twin_map", insert_spans), ("json", "otel_twin_json", insert_json_spans)):
        insert(store, table, fleet(f"twin-{kind}", START + timedelta(hours=1)))  # before the cut-off: backfilled
        added = spans.add_source(store, ingest_otel.source(table=table), cutoff)
        assert added.created
        insert(store, table, fleet(f"twin-{kind}", START + timedelta(days=2)))  # after: through the view
        assert spans.backfill(store, ingest_otel.source(table=table)).rows == 6
    by_map, by_json = (requests_of(store, f"twin-{kind}").drop("deployment", "load_id") for kind in ("map", "json"))
    assert by_map.height == 12
    assert by_json.equals(by_map)
    assert by_map["status"].to_list()[:6] == ["ok", "timeout", "rejected", "error", "ok", "ok"]
    assert by_map.row(4, named=True)["model"] == "qwen" and by_map.row(4, named=True)["weight"] == 10


def test_the_accessor_follows_the_column_type():
    columns = {"SpanAttributes": "JSON", "ResourceAttributes": "Map(LowCardinality(String), String)"}
    select, params = store_otel.request_select("t", "llm_request", [], ingest_otel.DEFAULT_ATTRIBUTES, ingest_otel.TIMEOUT_VALUES,
                                      ingest_otel.REJECTED_VALUES, ingest_otel.ERROR_STATUS_CODES, store_attributes.kinds(columns))
    key = next(k for k, v in params.items() if v == "gen_ai.latency.e2e")
    assert f"toString(getSubcolumn(SpanAttributes, {{{key}:String}}))" in select
    assert f"ResourceAttributes[{{{key}:String}}]" in select
    assert "SpanAttributes[" not in select and "getSubcolumn(ResourceAttributes" not in select
    assert store_attributes.kind("JSON(max_dynamic_paths=64)") == store_attributes.JSON and store_attributes.kind("Map(String, String)") == store_attributes.MAP
