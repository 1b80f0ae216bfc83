"""The weekly review as one pipeline: evaluate the SLOs over a week, list its incidents, attribute
each to the dimension values over-represented among its bad events, and find what changed.

    start, end = iso_week("2026-W43")
    review = weekly(store, slos, start, end)
    review.incidents      # one row per incident (analytics.review.incidents.INCIDENT_SCHEMA)
    review.attribution    # per incident, ranked values (analytics.review.attribution)
    review.changes        # deploy markers (analytics.review.changes.CHANGE_SCHEMA)

Queries are analytics.store.review (and the SLO engine's loader); the rest is frame math in
the sibling modules. Every query reads the rollups and groups in ClickHouse: one breakdown per
alert span (to find the deployments it affected) and one per incident (attribution).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from analytics.errors import InputError
from analytics.review import attribution as A
from analytics.review import changes as CH
from analytics.review import incidents as I
from analytics.slo import pipeline as slo_pipeline
from analytics.slo.evaluation import Evaluation, evaluate
from analytics.slo.sli import resolve
from analytics.slo.spec import Slo, evaluation_time
from analytics.store import queries
from analytics.store import review as Q
from analytics.store import slo as slo_queries
from analytics.store.client import Store

LOOKBACK = timedelta(days=1)  # history before the week, so the state at its start is known
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_week(text: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) UTC of an ISO week written YYYY-Www, e.g. 2026-W43."""
    match = _WEEK.match(text.strip())
    try:
        if not match:
            raise ValueError
        start = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"week: expected an ISO week such as 2026-W43, got {text!r}") from None
    return start, start + timedelta(days=7)


def evaluate_week(store: Store, slos: Sequence[Slo], start: datetime, end: datetime) -> list[Evaluation]:
    """Every SLO evaluated at ``end`` with its alert episodes replayed from ``start``."""
    data = slo_pipeline.load_data(store, slos, end)
    return [evaluate(slo, data[slo.name], end, replay_from=start) for slo in slos]


def scopes(store: Store, slos: Sequence[Slo], start: datetime, end: datetime) -> dict[str, tuple[tuple, tuple]]:
    """Per SLO name: (deployments, regions) in its scope with requests in [start, end)."""
    catalog = slo_queries.catalog(store, start, end)
    return {slo.name: resolve(slo.selector, catalog) for slo in slos}


def judged_breakdown(store: Store, slo: Slo, scope: tuple[tuple, tuple], start: datetime,
                     end: datetime) -> pl.DataFrame:
    """The window's breakdown by rollup keys within an SLO's scope, judged by its SLI."""
    deployments, regions = scope
    if not deployments:
        return A.judge(pl.DataFrame(), slo.sli)
    frame = Q.breakdown(store, start, end, deployments, regions, slo.sli.fields)
    return A.judge(frame, slo.sli)


def raw_judged(store: Store, slo: Slo, scope: tuple[tuple, tuple], start: datetime, end: datetime) -> pl.DataFrame:
    """Good and bad events per (deployment/replica, input band) within an SLO's scope, exact from
    the raw requests (replica and prompt length are not rollup keys)."""
    deployments, regions = scope
    if not deployments:
        return pl.DataFrame(schema={"replica": pl.String, "input_band": pl.String, "good": pl.Float64,
                                    "bad": pl.Float64})
    sli = slo.sli
    return Q.raw_breakdown(store, start, end, deployments, regions, sli.kind, sli.field, sli.threshold_ms,
                           sli.ttft_ms, sli.tpot_ms)


@dataclass(frozen=True)
class Incidents:
    """A period's incidents and the SLO alert spans they group (spans carry ``incident``)."""

    incidents: pl.DataFrame
    spans: pl.DataFrame


def find_incidents(store: Store, evaluations: Sequence[Evaluation], scope: dict[str, tuple[tuple, tuple]],
                   gap: timedelta = I.GAP) -> Incidents:
    """Spans of every SLO (flaps merged), the deployments each affected, grouped into incidents."""
    spans = I.slo_spans(evaluations, gap)
    by_name = {e.slo.name: e for e in evaluations}
    at = max((e.status.at for e in evaluations), default=datetime.now(UTC))
    affected, sizes = [], []
    for row in spans.iter_rows(named=True):
        e = by_name[row["slo"]]
        judged = judged_breakdown(store, e.slo, scope[row["slo"]], row["start"], row["end"] or e.status.at)
        affected.append(A.affected(judged, e.slo.target) if judged.height else [])
        sizes.append(len(scope[row["slo"]][0]))
    spans = spans.with_columns(pl.Series("deployments", affected, dtype=pl.List(pl.String)),
                               pl.Series("scope_size", sizes, dtype=pl.Int64))
    incidents, spans = I.group(spans, at, gap)
    return Incidents(incidents, spans)


def attribute_incidents(store: Store, incidents: pl.DataFrame, evaluations: Sequence[Evaluation],
                        scope: dict[str, tuple[tuple, tuple]], at: datetime) -> pl.DataFrame:
    """Per incident, dimension values ranked by over-representation among the bad events of its
    lead SLO (widest scope) over the incident's window: ``incident``, ``rank`` and
    analytics.review.attribution.ATTRIBUTION_SCHEMA's columns. The rollup keys come from
    requests_5m; replica and input band from one GROUP BY over the scope's raw requests in the
    window (ClickHouse returns a few dozen rows, never the requests)."""
    by_name = {e.slo.name: e for e in evaluations}
    parts = []
    for row in incidents.iter_rows(named=True):
        slo = by_name[row["lead_slo"]].slo
        window = (row["start"], row["end"] or at)
        judged = judged_breakdown(store, slo, scope[slo.name], *window)
        ranked = A.combine(A.attribute(judged), A.attribute(raw_judged(store, slo, scope[slo.name], *window),
                                                            A.RAW_DIMENSIONS))
        parts.append(ranked.with_columns(pl.lit(row["incident"], pl.Int64).alias("incident"),
                                         pl.int_range(1, ranked.height + 1, dtype=pl.Int64).alias("rank")))
    schema = {"incident": pl.Int64, "rank": pl.Int64} | A.ATTRIBUTION_SCHEMA
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema))


def find_changes(store: Store, start: datetime, end: datetime, deployments: Sequence[str] = ()) -> pl.DataFrame:
    """Deploy markers in [start, end) (analytics.review.changes), judged against LOOKBACK before it."""
    values = Q.values_by_slot(store, start - LOOKBACK, end, deployments)
    gpus = Q.gpus_by_hour(store, start - LOOKBACK, end, deployments)
    table = queries.deployments_table(store)
    per_replica = dict(table.select("deployment", "gpus_per_replica").iter_rows()) if table.height else {}
    found = CH.changes(values, gpus, per_replica)
    return found.filter((pl.col("ts") >= start) & (pl.col("ts") < end))


@dataclass(frozen=True)
class Review:
    """A period's review: SLO evaluations at its end, incidents, attribution and deploy markers."""

    start: datetime
    end: datetime
    evaluations: tuple[Evaluation, ...]
    incidents: pl.DataFrame
    spans: pl.DataFrame
    attribution: pl.DataFrame
    changes: pl.DataFrame


def weekly(store: Store, slos: Sequence[Slo], start: datetime, end: datetime, gap: timedelta = I.GAP) -> Review:
    """Everything the weekly review shows for [start, end): evaluations, incidents, attribution, changes."""
    end = evaluation_time(end)
    evaluations = evaluate_week(store, slos, start, end)
    scope = scopes(store, slos, start - LOOKBACK, end)
    found = find_incidents(store, evaluations, scope, gap)
    ranked = attribute_incidents(store, found.incidents, evaluations, scope, end)
    return Review(start, end, tuple(evaluations), found.incidents, found.spans, ranked, find_changes(store, start, end))
