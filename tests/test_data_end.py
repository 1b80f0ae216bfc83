"""The one end of the data: every command, page and the bench default to queries.data_range.

The rule's cases run on stand-in stores answering the three span queries (request rollup, exported
histograms, GPU rollup) with hand-built spans; the demo store checks the SQL itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from analytics.store import conventions, queries
from analytics.store.otel_metrics import HISTOGRAM_ROLLUP, histogram_rollup_exists

T = datetime(2025, 3, 10, tzinfo=UTC)
NOW = datetime(2025, 3, 20, 12, 2, tzinfo=UTC)  # the clock, inside the slot 12:00-12:05


class SpanStore:
    """Answers the span queries with {table: (first slot, end of the last slot, requests)}."""

    def __init__(self, spans: dict[str, tuple[datetime, datetime, int]]):
        self.spans = spans
        self.tables_found = {HISTOGRAM_ROLLUP} if HISTOGRAM_ROLLUP in spans else set()

    def scalar(self, sql: str, parameters: dict | None = None) -> int:
        return 0  # asked only whether the histogram rollup exists: tables_found already says

    def query(self, sql: str, parameters: dict | None = None) -> pl.DataFrame:
        table = next(t for t in (conventions.REQUESTS_5M, HISTOGRAM_ROLLUP, conventions.GPU_1H) if f"FROM {t}\n" in sql)
        first, end, requests = self.spans.get(table, (datetime(1970, 1, 1), datetime(1970, 1, 1), 0))
        return pl.DataFrame({"first_slot": [first], "last_end": [end], "requests": [requests],
                             "n": [int(table in self.spans)]})


def test_requests_alone_set_the_span():
    store = SpanStore({conventions.REQUESTS_5M: (T, T + timedelta(days=2), 500)})
    assert queries.data_range(store, NOW) == (T, T + timedelta(days=2), 500)


def test_exported_histograms_alone_set_the_span_with_no_request_rows():
    store = SpanStore({HISTOGRAM_ROLLUP: (T, T + timedelta(hours=5), 0)})
    assert queries.data_range(store, NOW) == (T, T + timedelta(hours=5), 0)


def test_the_span_runs_from_the_earliest_start_to_the_latest_end_of_requests_and_histograms():
    store = SpanStore({conventions.REQUESTS_5M: (T + timedelta(days=1), T + timedelta(days=2), 500),
                       HISTOGRAM_ROLLUP: (T, T + timedelta(days=3), 0)})
    assert queries.data_range(store, NOW) == (T, T + timedelta(days=3), 500)
    assert queries.data_end(store, NOW) == T + timedelta(days=3)


def test_gpu_samples_ending_later_do_not_move_the_end_past_the_requests():
    store = SpanStore({conventions.REQUESTS_5M: (T, T + timedelta(hours=10, minutes=35), 500),
                       conventions.GPU_1H: (T, T + timedelta(hours=11), 0)})
    assert queries.data_end(store, NOW) == T + timedelta(hours=10, minutes=35)


def test_gpu_samples_ending_earlier_do_not_move_the_end_either():
    store = SpanStore({conventions.REQUESTS_5M: (T, T + timedelta(days=2), 500), conventions.GPU_1H: (T, T + timedelta(days=1), 0)})
    assert queries.data_end(store, NOW) == T + timedelta(days=2)


def test_a_store_with_gpu_samples_only_spans_its_gpu_hours():
    store = SpanStore({conventions.GPU_1H: (T, T + timedelta(days=1), 0)})
    assert queries.data_range(store, NOW) == (T, T + timedelta(days=1), 0)


def test_rows_ahead_of_the_clock_end_the_data_with_the_slot_holding_now():
    store = SpanStore({conventions.REQUESTS_5M: (T, NOW + timedelta(days=1), 500)})
    assert queries.data_end(store, NOW) == datetime(2025, 3, 20, 12, 5, tzinfo=UTC)


def test_data_that_lies_wholly_ahead_of_the_clock_is_an_empty_span_at_now():
    store = SpanStore({conventions.REQUESTS_5M: (NOW + timedelta(days=1), NOW + timedelta(days=2), 500)})
    start, end, _ = queries.data_range(store, NOW)
    assert start == end == datetime(2025, 3, 20, 12, 5, tzinfo=UTC)


def test_an_empty_store_has_no_span():
    assert queries.data_range(SpanStore({}), NOW) is None
    assert queries.data_end(SpanStore({}), NOW) is None


def test_on_the_session_store_the_span_runs_from_the_first_to_the_last_slot_of_requests_or_histograms(demo_store):
    """The demo fleet's request slots, and the exported histograms other tests add to the session store."""
    first, last, requests = demo_store.query(
        f"SELECT min(slot), max(slot), sum(requests) FROM {conventions.REQUESTS_5M}").row(0)
    if histogram_rollup_exists(demo_store):
        h_first, h_last, h_rows = demo_store.query(f"SELECT min(slot), max(slot), count() FROM {HISTOGRAM_ROLLUP}").row(0)
        if h_rows:
            first, last = min(first, h_first), max(last, h_last)
    start, end, counted = queries.data_range(demo_store)
    assert start == first.replace(tzinfo=UTC)
    assert end == last.replace(tzinfo=UTC) + timedelta(seconds=conventions.SLOT_SECONDS)
    assert counted == requests
