"""SQL for OpenTelemetry span tables: the exporter's DDL, DESC TABLE, and spans -> requests.

The request SELECT is written once (request_select): the materialized view runs it on every
block the exporter inserts, and a backfill runs it over time batches of what was there before.
The view keeps spans from its cut-off time on, the backfill those before it, so the two never
map a span twice. Attribute names, span and service names reach SQL as bound parameters (the
server writes their values into the stored view); table names are checked identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from analytics.store import attributes as store_attributes
from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.ddl import Engine, Layout, layout_of
from analytics.store.journal import DONE, JOURNAL, LOAD_ROW


def traces_table_ddl(table: str) -> str:
    """The exporter's span table (exporter/clickhouseexporter/internal/sqltemplates/traces_table.sql,
    opentelemetry-collector-contrib @f92a5763), with a plain MergeTree engine as the exporter uses
    by default. `table` must be a checked identifier."""
    attrs = "Map(LowCardinality(String), String)"
    return f"""CREATE TABLE IF NOT EXISTS {table} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {attrs} CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {attrs} CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes {attrs}
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes {attrs}
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""


def describe(store: Store, table: str) -> dict[str, str] | None:
    """Column name -> type of a table (`table` or `database.table`), or None when it does not exist."""
    database, _, name = table.rpartition(".")
    exists = store.scalar(
        "SELECT count() FROM system.tables WHERE database = if({db:String} = '', currentDatabase(), {db:String}) "
        "AND name = {name:String}", {"db": database, "name": name})
    if not exists:
        return None
    frame = store.query(f"DESC TABLE {table}")  # a checked identifier (analytics.ingest.otel.check_table_name)
    return dict(zip(frame["name"], frame["type"], strict=True))


def first_attribute(names: Sequence[str], params: dict, kinds: Mapping[str, str], own: str = "SpanAttributes") -> str:
    """The first of the attributes present, the row's own attributes (`own`: SpanAttributes, or a
    metric's Attributes) before resource attributes; '' if none.
    `kinds`: MAP or JSON per attribute column (analytics.store.attributes)."""
    if not names:
        return "''"
    arms = []
    for name in names:
        key = f"a{len(params)}"
        params[key] = name
        for column in (own, "ResourceAttributes"):
            arms += [store_attributes.has(column, kinds.get(column, store_attributes.MAP), f"{{{key}:String}}"),
                     store_attributes.value(column, kinds.get(column, store_attributes.MAP), f"{{{key}:String}}")]
    return f"multiIf({', '.join(arms)}, '')"


def _ms(names: Sequence[str], params: dict, kinds: Mapping[str, str]) -> str:
    """An attribute in seconds as Float64 milliseconds, NULL when absent or not a number."""
    return f"toFloat64OrNull({first_attribute(names, params, kinds)}) * 1000"


def request_select(table: str, span: str, services: Sequence[str], attributes: Mapping[str, Sequence[str]],
                   timeout_values: Sequence[str], rejected_values: Sequence[str],
                   error_codes: Sequence[str], kinds: Mapping[str, str] | None = None) -> tuple[str, dict]:
    """SELECT of `requests` rows from the request spans of `table`, and its parameters; `kinds`
    says which attribute columns are JSON (default: Map, the exporter's default schema).

    Ends in a WHERE clause that callers may extend with AND.
    """
    p: dict = {"span": span, "services": list(services), "timeouts": list(timeout_values),
               "rejections": list(rejected_values), "error_codes": list(error_codes)}
    a = {k: list(v) for k, v in attributes.items()}
    kinds = kinds or {}
    deployment = first_attribute(a["deployment"], p, kinds)
    output = f"toUInt32OrZero({first_attribute(a['output_tokens'], p, kinds)})"
    # tpot = decode time / (output tokens - 1): the mean gap between tokens after the first; 0 for
    # a one-token answer, as file ingest derives it (analytics.ingest.files.derive_tpot: DistServe's
    # goodput convention, no decode phase to judge).
    decode = _ms(a["decode"], p, kinds)
    derived_tpot = f"multiIf(isNull({decode}), NULL, {output} > 1, {decode} / ({output} - 1), 0)"
    tpot = f"coalesce({_ms(a['tpot_ms'], p, kinds)}, {derived_tpot})" if a["tpot_ms"] else derived_tpot
    error_type = f"lower({first_attribute(a['error_type'], p, kinds)})"
    http = first_attribute(a["http_status"], p, kinds)
    status = (
        f"multiIf(has({{timeouts:Array(String)}}, {error_type}) OR has({{timeouts:Array(String)}}, {http}), 'timeout', "
        f"has({{rejections:Array(String)}}, {error_type}) OR has({{rejections:Array(String)}}, {http}), 'rejected', "
        f"has({{error_codes:Array(String)}}, StatusCode) OR {error_type} != '' OR toUInt16OrZero({http}) >= 500, "
        "'error', 'ok')"
    )
    columns = {
        "ts": "toDateTime64(Timestamp, 3, 'UTC')",
        "deployment": f"if({deployment} = '', ServiceName, {deployment})" if a["deployment"] else "ServiceName",
        "model": first_attribute(a["model"], p, kinds),
        "model_version": first_attribute(a["model_version"], p, kinds),
        "region": first_attribute(a["region"], p, kinds),
        "gpu_type": first_attribute(a["gpu_type"], p, kinds),
        "replica": first_attribute(a["replica"], p, kinds),
        "status": status,
        "queue_ms": f"toFloat32({_ms(a['queue_ms'], p, kinds)})",
        "ttft_ms": f"toFloat32({_ms(a['ttft_ms'], p, kinds)})",
        "tpot_ms": f"toFloat32({tpot})",
        # Without an e2e attribute, the span's own duration (nanoseconds) is the request's latency.
        "e2e_ms": f"toFloat32(coalesce({_ms(a['e2e_ms'], p, kinds)}, Duration / 1e6))",
        "input_tokens": f"toUInt32OrZero({first_attribute(a['input_tokens'], p, kinds)})",
        "output_tokens": output,
        "weight": f"greatest(toUInt32OrZero({first_attribute(a['weight'], p, kinds)}), 1)",
    }
    assert set(columns) == set(conventions.REQUEST_COLUMNS), "every requests column is mapped"
    select = ",\n    ".join(f"{expr} AS {name}" for name, expr in columns.items())
    sql = (f"SELECT\n    {select}\nFROM {table}\nWHERE SpanName = {{span:String}}\n"
           "  AND (empty({services:Array(String)}) OR has({services:Array(String)}, ServiceName))")
    return sql, p


_FROM = "Timestamp >= fromUnixTimestamp64Nano({lo:Int64})"
_BEFORE = "Timestamp < fromUnixTimestamp64Nano({hi:Int64})"


def create_view(store: Store, view: str, select: str, params: dict, cutoff_ns: int) -> None:
    """The materialized view mapping spans from `cutoff_ns` on into requests (no-op if it exists)."""
    # On a cluster (analytics.store.ddl) the view is created on every host, on the span table as
    # named, and writes to the Distributed `requests`, which routes each row to its deployment's shard.
    store.command(layout_of(store).materialized_view(view, conventions.REQUESTS, f"{select}\n  AND {_FROM}"),
                  {**params, "lo": cutoff_ns})


def view_exists(store: Store, view: str) -> bool:
    """Whether the view exists in the current database."""
    return bool(store.scalar("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                             "AND name = {v:String}", {"v": view}))


def sources_ddl(layout: Layout) -> list[str]:
    """CREATE statements of the table of sources (one node or a cluster: analytics.store.ddl)."""
    return layout.create_table(conventions.OTEL_SOURCES, "view String, source_table String, definition String, cutoff_ns Int64,\n"
                               "    created_at DateTime64(3, 'UTC') DEFAULT now64(3)",
                               Engine("ReplacingMergeTree", "created_at", " ORDER BY view"), "cityHash64(view)")


def _create_sources(store: Store) -> None:
    for statement in sources_ddl(layout_of(store)):
        store.command(statement)


def record_source(store: Store, view: str, table: str, definition: str, cutoff_ns: int) -> None:
    """Remember a source: its view, table, mapping (JSON text) and cut-off."""
    _create_sources(store)
    store.command(f"INSERT INTO {conventions.OTEL_SOURCES} (view, source_table, definition, cutoff_ns) "
                  "VALUES ({v:String}, {t:String}, {d:String}, {c:Int64})",
                  {"v": view, "t": table, "d": definition, "c": cutoff_ns})


def source_record(store: Store, view: str) -> tuple[str, int] | None:
    """(mapping JSON, cut-off ns) of a recorded source, or None."""
    _create_sources(store)
    frame = store.query(f"SELECT definition, cutoff_ns FROM {conventions.OTEL_SOURCES} FINAL WHERE view = {{v:String}}",
                        {"v": view})
    return (frame.item(0, 0), frame.item(0, 1)) if frame.height else None


def span_range(store: Store, select: str, params: dict, before_ns: int) -> tuple[int, int] | None:
    """(first, last) time in ns of the request spans before `before_ns`; None when there are none."""
    frame = store.query(f"SELECT toInt64(toUnixTimestamp64Nano(min(ts))) AS lo, "
                        f"toInt64(toUnixTimestamp64Nano(max(ts))) AS hi, count() AS n "
                        f"FROM ({select}\n  AND {_BEFORE})", {**params, "hi": before_ns})
    return (frame.item(0, 0), frame.item(0, 1)) if frame.item(0, 2) else None


def insert_requests(store: Store, target: str, select: str, params: dict, lo_ns: int, hi_ns: int) -> None:
    """Map the request spans in [lo_ns, hi_ns) into `target` (a staging copy of requests)."""
    columns = ", ".join(conventions.REQUEST_COLUMNS)
    store.command(f"INSERT INTO {target} ({columns})\n{select}\n  AND {_FROM} AND {_BEFORE}",
                  {**params, "lo": lo_ns, "hi": hi_ns})


def done_loads(store: Store, prefix: str) -> list[str]:
    """Labels (the `files` journaled) of finished loads that start with `prefix`, every label of each load."""
    frame = store.query(
        f"SELECT label FROM (SELECT argMax(files, step) AS labels FROM {JOURNAL} WHERE table = {{row:String}} "
        f"GROUP BY load_id HAVING argMax(state, step) = {{done:String}}) ARRAY JOIN labels AS label "
        f"WHERE startsWith(label, {{p:String}})",
        {"row": LOAD_ROW, "done": DONE, "p": prefix},
    )
    return frame["label"].to_list()


def table_rows(store: Store, table: str) -> int:
    """Rows in a table of ours (a staging table's name is ours, never the user's)."""
    return int(store.scalar(f"SELECT count() FROM {table}") or 0)


def create_traces_table(store: Store, table: str) -> None:
    """Create the exporter's span table if it does not exist (`table` a checked identifier)."""
    store.command(traces_table_ddl(table))
