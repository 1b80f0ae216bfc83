"""An OpenTelemetry span table as a source of requests: a materialized view, and a backfill.

`add_source` DESCs the span table, refuses one it cannot read, and creates a materialized view
from it into `requests` that keeps spans from a cut-off time (now) on: every span the exporter
inserts from then on reaches `requests`, and through the rollup views the pages, with no command
run. `backfill` maps the spans before the cut-off in journaled batches (analytics.ingest.otel_backfill):
nothing is counted twice.
"""

from __future__ import annotations

import json

from analytics.errors import InputError
from analytics.ingest import otel as ingest_otel
from analytics.ingest import otel_backfill as ingest_otel_backfill
from analytics.store import attributes as store_attributes
from analytics.store import conventions
from analytics.store import otel as store_otel
from analytics.store.client import Store

NS = ingest_otel_backfill.NS
DEFAULT_BATCH_HOURS = ingest_otel_backfill.DEFAULT_BATCH_HOURS
Added, Backfilled = ingest_otel_backfill.Added, ingest_otel_backfill.Backfilled


def _select(source: ingest_otel.SpanSource, columns: dict[str, str]) -> tuple[str, dict]:
    """The request SELECT, reading Map or JSON attribute columns as the DESC TABLE `columns` say."""
    return store_otel.request_select(source.table, source.span, source.services, source.attributes,
                            ingest_otel.TIMEOUT_VALUES, ingest_otel.REJECTED_VALUES, ingest_otel.ERROR_STATUS_CODES, store_attributes.kinds(columns))


def _definition(source: ingest_otel.SpanSource) -> str:
    return json.dumps({"table": source.table, "span": source.span, "services": list(source.services),
                       "attributes": {k: list(v) for k, v in source.attributes.items()}}, sort_keys=True)


def add_source(store: Store, source: ingest_otel.SpanSource, now_ns: int) -> Added:
    """Create the view mapping `source`'s request spans into requests, from `now_ns` on (idempotent)."""
    columns = store_otel.describe(store, source.table)
    if columns is None:
        raise InputError(f"--table {source.table}: no such table in {store.target} "
                         "(the exporter creates otel_traces unless create_schema is false)")
    ingest_otel.check_span_table(source.table, columns)
    select, params = _select(source, columns)
    return ingest_otel_backfill.add_view(store, source.view, source.table, _definition(source), now_ns,
                      lambda cutoff: store_otel.create_view(store, source.view, select, params, cutoff))


def backfill(store: Store, source: ingest_otel.SpanSource, batch_hours: int = DEFAULT_BATCH_HOURS,
             progress: ingest_otel_backfill.Progress | None = None) -> Backfilled:
    """Map the request spans from before the source's cut-off into requests, batch by batch."""
    cutoff = ingest_otel_backfill.cutoff_of(store, source.view, source.table)
    select, params = _select(source, store_otel.describe(store, source.table) or {})
    return ingest_otel_backfill.backfill(store, source.view, cutoff, store_otel.span_range(store, select, params, cutoff), conventions.REQUESTS,
                      tuple(conventions.REQUEST_COLUMNS),
                      lambda stage, lo, hi: store_otel.insert_requests(store, stage, select, params, lo, hi),
                      batch_hours, progress, "requests")
