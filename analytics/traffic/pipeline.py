"""The Overview's one pipeline: what the page, the server's warm-up and the bench all call.

    overview = load(store, filters)                       # the numbers: KPIs, table, comparison, movers
    frame = series(store, filters, overview.charted)      # the charts' time series

Both read the request rollup only (analytics.store.queries): per-deployment totals of the range,
of the previous period's compared part (and of the current one's, when the data covers only part
of it), the deployments' first and last slots, and one time-series read for the charts. The
charts' read is its own step so a failed chart query leaves the numbers on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from analytics.store import queries
from analytics.store.client import Store
from analytics.store.conventions import SLOT_SECONDS
from analytics.times import Filters
from analytics.traffic import summary as traffic_summary

CHARTED = 8  # the Overview charts the busiest deployments: more lines make the charts unreadable


@dataclass(frozen=True)
class Overview:
    """The Overview's numbers for one set of filters."""

    fleet: dict  # the fleet as one summary row ({} when the range holds no requests)
    per_deployment: pl.DataFrame  # summary.summarize per deployment
    compared: traffic_summary.Comparison | None = None  # None when the previous period holds no data
    before: dict = field(default_factory=dict)  # the fleet over the compared part of the previous period
    after: dict = field(default_factory=dict)  # ... and of this one
    movers: pl.DataFrame = field(default_factory=pl.DataFrame)  # summary.movers between the compared parts
    fresh: list[str] = field(default_factory=list)  # deployments new in this period: not compared
    changes: pl.DataFrame = field(default_factory=pl.DataFrame)  # summary.changes: every compared metric, tested

    @property
    def charted(self) -> tuple[str, ...]:
        """The deployments the charts show: the CHARTED busiest."""
        return tuple(self.per_deployment.sort("requests", descending=True)["deployment"].head(CHARTED).to_list())


def load(store: Store, filters: Filters) -> Overview:
    """The Overview's numbers over [filters.start, filters.end), compared with the previous period
    over like hours of both, cut to the part the data of the deployments in view covers in both."""
    totals: dict[tuple[datetime, datetime], pl.DataFrame] = {}

    def totals_of(span: tuple[datetime, datetime]) -> pl.DataFrame:  # each range read once
        if span not in totals:
            totals[span] = queries.request_totals(store, *span, list(filters.deployments), list(filters.regions),
                                                  fields=traffic_summary.HIST_FIELDS)
        return totals[span]

    def summary(span: tuple[datetime, datetime]) -> pl.DataFrame:
        return traffic_summary.summarize(totals_of(span), (span[1] - span[0]).total_seconds())

    def fleet(span: tuple[datetime, datetime]) -> dict:
        frame = totals_of(span)
        if frame.is_empty():
            return {}
        return traffic_summary.summarize(traffic_summary.fleet_totals(frame), (span[1] - span[0]).total_seconds()).row(0, named=True)

    whole = (filters.start, filters.end)
    now, per_deployment = fleet(whole), summary(whole)
    if not now:
        return Overview(now, per_deployment)
    seen = queries.freshness(store)
    span = traffic_summary.span_of(seen, per_deployment["deployment"].to_list(), timedelta(seconds=SLOT_SECONDS))
    compared = traffic_summary.comparison(*whole, *span) if span else None
    if compared is None:
        return Overview(now, per_deployment)
    fresh = traffic_summary.new_in_period(seen, compared.previous)
    current = totals_of(compared.current).filter(~pl.col("deployment").is_in(fresh))
    changed = traffic_summary.changes(current, totals_of(compared.previous), compared.compared.total_seconds())
    return Overview(now, per_deployment, compared, fleet(compared.previous), fleet(compared.current),
                    traffic_summary.movers(changed), fresh, changed)


def series(store: Store, filters: Filters, charted: tuple[str, ...]) -> pl.DataFrame:
    """Per (charted deployment, step of filters.step_seconds): req/s, error rate, TTFT and E2E p99."""
    step = filters.step_seconds
    if not charted:  # an empty deployment list reads every deployment
        return traffic_summary.series(pl.DataFrame(), step)
    slots = queries.request_slots(store, filters.start, filters.end, list(charted), list(filters.regions),
                                  step_seconds=step, fields=traffic_summary.HIST_FIELDS)
    return traffic_summary.series(slots, step)
