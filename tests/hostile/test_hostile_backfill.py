"""An OpenTelemetry backfill maps each row once, whatever --batch-hours each run used
(analytics.ingest.otel_backfill): the journal records the time ranges done, not batch names.

The session store is shared: each test has its own exporter table and deployment, in 2024.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from analytics.ingest import gauges, spans
from analytics.ingest import otel as ingest_otel
from analytics.ingest.otel_backfill import uncovered
from analytics.store import otel as store_otel
from analytics.store import otel_metrics as store_otel_metrics
from analytics.store.queries import request_totals
from tests.test_otel import insert_spans, ns, span, vllm
from tests.test_otel_metrics import GAUGE_SCHEMA, gauge

START = datetime(2024, 8, 1, 0, 17, tzinfo=UTC)
CUTOFF = datetime(2024, 8, 10, tzinfo=UTC)
SPANS = 37  # one every 113 minutes from Aug 1 00:17 to Aug 3 20:05 (00:17 + 36 * 113 min)


class Stopped(Exception):
    """A run interrupted between two batches (as Ctrl-C would)."""


def requests_counted(store, deployment: str) -> tuple[int, int]:
    """(rows in requests, requests in the rollup) of a deployment."""
    rows = store.scalar("SELECT count() FROM requests WHERE deployment = {d:String}", {"d": deployment})
    totals = request_totals(store, datetime(2024, 8, 1, tzinfo=UTC), CUTOFF, [deployment])
    return rows, int(totals["requests"].sum())


def span_source(store, table: str, deployment: str) -> ingest_otel.SpanSource:
    store_otel.create_traces_table(store, table)
    insert_spans(store, table, [span(START + timedelta(minutes=113 * i), deployment, vllm()) for i in range(SPANS)])
    source = ingest_otel.source(table=table)
    spans.add_source(store, source, ns(CUTOFF))
    return source


@pytest.mark.parametrize(("lo", "hi", "covered", "gaps"), [
    (0, 10, [], [(0, 10)]),
    (0, 10, [(0, 10)], []),
    (0, 10, [(-5, 3), (6, 8)], [(3, 6), (8, 10)]),
    (0, 10, [(8, 20), (2, 4), (3, 5)], [(0, 2), (5, 8)]),
    (0, 10, [(10, 20), (-5, 0)], [(0, 10)]),
])
def test_a_batch_maps_only_the_parts_of_its_range_no_earlier_run_covered(lo, hi, covered, gaps):
    assert uncovered(lo, hi, covered) == gaps


def test_backfilling_again_with_other_batch_hours_counts_every_span_once(store):
    source = span_source(store, "otel_widths", "backfill-widths")
    first = spans.backfill(store, source, batch_hours=1)
    assert (first.rows, first.batches) == (SPANS, 69)  # hours 00:00 on Aug 1 to 20:00 on Aug 3
    for hours in (6, 24, 1):
        again = spans.backfill(store, source, batch_hours=hours)
        assert (again.rows, again.batches) == (0, 0), f"--batch-hours {hours}"
        assert requests_counted(store, "backfill-widths") == (SPANS, SPANS), f"--batch-hours {hours}"


def test_a_run_stopped_part_way_is_finished_by_a_run_with_wider_batches_without_double_counting(store):
    source = span_source(store, "otel_partial", "backfill-partial")
    done_batches = []

    def stop_after_three(_fraction: float, _text: str) -> None:
        done_batches.append(_text)
        if len(done_batches) == 3:
            raise Stopped

    with pytest.raises(Stopped):
        spans.backfill(store, source, batch_hours=6, progress=stop_after_three)
    # 00:00-18:00 on Aug 1 is done: spans at 00:17, 02:10, ..., 17:09 (minute 1029 = 113 * 9 + 12).
    assert requests_counted(store, "backfill-partial") == (10, 10)
    rest = spans.backfill(store, source, batch_hours=24)
    assert rest.rows == SPANS - 10
    assert requests_counted(store, "backfill-partial") == (SPANS, SPANS)
    assert spans.backfill(store, source, batch_hours=1).rows == 0
    assert requests_counted(store, "backfill-partial") == (SPANS, SPANS)


def test_gauge_backfills_with_other_batch_hours_count_every_sample_once(store):
    store_otel_metrics.create_table(store, store_otel_metrics.gauge_table_ddl("otel_gauge_widths"))
    samples = 20  # every 7 hours from 00:17
    store.insert("otel_gauge_widths", pa.Table.from_pylist(
        [gauge(START + timedelta(hours=7 * i), name, 50.0, pod="gauge-widths-6f7d9c8b5-abcde")
         for i in range(samples) for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED")], schema=GAUGE_SCHEMA))
    src = gauges.source(table="otel_gauge_widths")
    gauges.add_source(store, src, ns(CUTOFF))
    for hours in (24, 1, 6):
        gauges.backfill(store, src, batch_hours=hours)
        rows = store.scalar("SELECT count() FROM gpu_metrics WHERE deployment = 'gauge-widths'")
        assert rows == samples, f"--batch-hours {hours}"
