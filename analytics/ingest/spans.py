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
from analytics.ingest import otel as O
from analytics.ingest import otel_backfill as B
from analytics.store import attributes as A
from analytics.store import conventions as N
from analytics.store import otel as S
from analytics.store.client import Store

NS = B.NS
DEFAULT_BATCH_HOURS = B.DEFAULT_BATCH_HOURS
Added, Backfilled = B.Added, B.Backfilled


def _select(source: O.SpanSource, columns: dict[str, str]) -> tuple[str, dict]:
    """The request SELECT, reading Map or JSON attribute columns as the DESC TABLE `columns` say."""
    return S.request_select(source.table, source.span, source.services, source.attributes,
                            O.TIMEOUT_VALUES, O.REJECTED_VALUES, O.ERROR_STATUS_CODES, A.kinds(columns))


def _definition(source: O.SpanSource) -> str:
    return json.dumps({"table": source.table, "span": source.span, "services": list(source.services),
                       "attributes": {k: list(v) for k, v in source.attributes.items()}}, sort_keys=True)


def add_source(store: Store, source: O.SpanSource, now_ns: int) -> Added:
    """Create the view mapping `source`'s request spans into requests, from `now_ns` on (idempotent)."""
    columns = S.describe(store, source.table)
    if columns is None:
        raise InputError(f"--table {source.table}: no such table in {store.target} "
                         "(the exporter creates otel_traces unless create_schema is false)")
    O.check_span_table(source.table, columns)
    select, params = _select(source, columns)
    return B.add_view(store, source.view, source.table, _definition(source), now_ns,
                      lambda cutoff: S.create_view(store, source.view, select, params, cutoff))


def backfill(store: Store, source: O.SpanSource, batch_hours: int = DEFAULT_BATCH_HOURS,
             progress: B.Progress | None = None) -> Backfilled:
    """Map the request spans from before the source's cut-off into requests, batch by batch."""
    cutoff = B.cutoff_of(store, source.view, source.table)
    select, params = _select(source, S.describe(store, source.table) or {})
    return B.backfill(store, source.view, cutoff, S.span_range(store, select, params, cutoff), N.REQUESTS,
                      tuple(N.REQUEST_COLUMNS),
                      lambda stage, lo, hi: S.insert_requests(store, stage, select, params, lo, hi),
                      batch_hours, progress, "requests")
