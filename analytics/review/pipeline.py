"""The weekly review as one pipeline: evaluate the SLOs over a week, list its incidents, attribute
each to the dimension values over-represented among its bad events, and find what changed.

    start, end = iso_week("2026-W43")
    review = weekly(store, slos, start, end)
    review.incidents      # one row per incident (analytics.review.incidents.INCIDENT_SCHEMA)
    review.attribution    # per incident, ranked values (analytics.review.attribution)
    review.changes        # deploy markers (analytics.review.changes.CHANGE_SCHEMA)

Queries are analytics.store.review (and the SLO engine's loader); the rest is frame math in
the sibling modules. Every query reads the rollups and groups in ClickHouse: one breakdown per
SLO span (to find the deployments it affected) and two per incident (attribution: its burn, and
as long before it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.errors import InputError
from analytics.gpu import efficiency as gpu_efficiency
from analytics.gpu import pipeline as gpu_pipeline
from analytics.gpu import rightsizing as gpu_rightsizing
from analytics.gpu.hours import fields_of
from analytics.review import attribution as review_attribution
from analytics.review import changes as review_changes
from analytics.review import incidents as review_incidents
from analytics.review import verdicts as review_verdicts
from analytics.review import weekly as review_weekly
from analytics.slo import pipeline as slo_pipeline
from analytics.slo.evaluation import Evaluation, evaluate_all
from analytics.slo.objectives import objectives_by_deployment
from analytics.slo.sli import resolve
from analytics.slo.spec import Slo, evaluation_time
from analytics.store import capacity as capacity_queries
from analytics.store import queries
from analytics.store import review as store_review
from analytics.store import slo as slo_queries
from analytics.store.client import Store
from analytics.times import plausible
from analytics.traffic import summary as traffic

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
    plausible(start, f"week {text.strip()}")  # 9999-W52 would end past the last date a datetime holds
    return start, start + timedelta(days=7)


def evaluate_week(store: Store, slos: Sequence[Slo], start: datetime, end: datetime) -> list[Evaluation]:
    """Every SLO evaluated at ``end`` with its alert episodes replayed from ``start``; at a period's
    end a calendar window judges that period, its last slot included (analytics.slo.spec.Window.start)."""
    data = slo_pipeline.load_data(store, slos, end)
    return evaluate_all(slos, data, end, replay_from=start)


def scopes(store: Store, slos: Sequence[Slo], start: datetime, end: datetime) -> dict[str, tuple[tuple, tuple]]:
    """Per SLO name: (deployments, regions) in its scope with requests in [start, end)."""
    catalog = slo_queries.catalog(store, start, end)
    return {slo.name: resolve(slo.selector, catalog) for slo in slos}


def judged_breakdown(store: Store, slo: Slo, scope: tuple[tuple, tuple], start: datetime,
                     end: datetime) -> pl.DataFrame:
    """The window's breakdown by rollup keys within an SLO's scope, judged by its SLI."""
    deployments, regions = scope
    if not deployments:
        return review_attribution.judge(pl.DataFrame(), slo.sli)
    frame = store_review.breakdown(store, start, end, deployments, regions, slo.sli.fields)
    return review_attribution.judge(frame, slo.sli)


def raw_judged(store: Store, slo: Slo, scope: tuple[tuple, tuple], start: datetime, end: datetime) -> pl.DataFrame:
    """Good and bad events per (deployment/replica, input band) within an SLO's scope, exact from
    the raw requests (replica and prompt length are not rollup keys)."""
    deployments, regions = scope
    if not deployments:
        return pl.DataFrame(schema={"replica": pl.String, "input_band": pl.String, "good": pl.Float64,
                                    "bad": pl.Float64})
    sli = slo.sli
    return store_review.raw_breakdown(store, start, end, deployments, regions, sli.kind, sli.field, sli.threshold_ms,
                           sli.ttft_ms, sli.tpot_ms)


@dataclass(frozen=True)
class Incidents:
    """A period's incidents and the SLO alert spans they group (spans carry ``incident``)."""

    incidents: pl.DataFrame
    spans: pl.DataFrame


def find_incidents(store: Store, evaluations: Sequence[Evaluation], scope: dict[str, tuple[tuple, tuple]],
                   gap: timedelta = review_incidents.GAP) -> Incidents:
    """Spans of every SLO (flaps merged, each where its budget burned: analytics.review.incidents),
    the deployments each affected, grouped into incidents."""
    spans = review_incidents.slo_spans(evaluations, gap)
    by_name = {e.slo.name: e for e in evaluations}
    at = max((e.status.at for e in evaluations), default=datetime.now(UTC))
    affected, sizes = [], []
    for row in spans.iter_rows(named=True):
        e = by_name[row["slo"]]
        judged = judged_breakdown(store, e.slo, scope[row["slo"]], row["start"], row["end"] or e.status.at)
        affected.append(review_attribution.affected(judged, e.slo.target) if judged.height else [])
        sizes.append(len(scope[row["slo"]][0]))
    spans = spans.with_columns(pl.Series("deployments", affected, dtype=pl.List(pl.String)),
                               pl.Series("scope_size", sizes, dtype=pl.Int64))
    incidents, spans = review_incidents.group(spans, at, gap)
    return Incidents(incidents, spans)


def attribute_incidents(store: Store, incidents: pl.DataFrame, evaluations: Sequence[Evaluation],
                        scope: dict[str, tuple[tuple, tuple]], at: datetime) -> pl.DataFrame:
    """Per incident, dimension values ranked by over-representation among the bad events of its
    lead SLO (widest scope) over the incident's window (where its budget burned), against the
    good events of that window and of as long before it (analytics.review.attribution.with_context):
    ``incident``, ``rank`` and analytics.review.attribution.ATTRIBUTION_SCHEMA's columns. The
    rollup keys come from requests_5m; replica and input band from one GROUP BY over the scope's
    raw requests per window (ClickHouse returns a few dozen rows, never the requests)."""
    by_name = {e.slo.name: e for e in evaluations}
    parts = []
    for row in incidents.iter_rows(named=True):
        slo = by_name[row["lead_slo"]].slo
        start, end = row["start"], row["end"] or at
        burn, before = (start, end), (start - (end - start), start)
        rollup = review_attribution.with_context(judged_breakdown(store, slo, scope[slo.name], *burn),
                                                 judged_breakdown(store, slo, scope[slo.name], *before))
        raw = review_attribution.with_context(raw_judged(store, slo, scope[slo.name], *burn),
                                              raw_judged(store, slo, scope[slo.name], *before))
        ranked = review_attribution.combine(review_attribution.attribute(rollup),
                                            review_attribution.attribute(raw, review_attribution.RAW_DIMENSIONS))
        parts.append(ranked.with_columns(pl.lit(row["incident"], pl.Int64).alias("incident"),
                                         pl.int_range(1, ranked.height + 1, dtype=pl.Int64).alias("rank")))
    schema = {"incident": pl.Int64, "rank": pl.Int64} | review_attribution.ATTRIBUTION_SCHEMA
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(list(schema))


def find_changes(store: Store, start: datetime, end: datetime, deployments: Sequence[str] = ()) -> pl.DataFrame:
    """Deploy markers in [start, end) (analytics.review.changes), judged against LOOKBACK before it."""
    values = store_review.values_by_slot(store, start - LOOKBACK, end, deployments)
    gpus = store_review.gpus_by_hour(store, start - LOOKBACK, end, deployments)
    table = queries.deployments_table(store)
    per_replica = dict(table.select("deployment", "gpus_per_replica").iter_rows()) if table.height else {}
    found = review_changes.changes(values, gpus, per_replica)
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


def weekly(store: Store, slos: Sequence[Slo], start: datetime, end: datetime, gap: timedelta = review_incidents.GAP) -> Review:
    """Everything the weekly review shows for [start, end): evaluations, incidents, attribution, changes."""
    end = evaluation_time(end)
    evaluations = evaluate_week(store, slos, start, end)
    # incidents come from the SLOs that measure requests; a composite's burn is its objectives'
    own = [slo for slo in slos if slo.composite is None]
    scope = scopes(store, own, start - LOOKBACK, end)
    found = find_incidents(store, [e for e in evaluations if e.slo.composite is None], scope, gap)
    ranked = attribute_incidents(store, found.incidents, evaluations, scope, end)
    return Review(start, end, tuple(evaluations), found.incidents, found.spans, ranked, find_changes(store, start, end))


# --- the weekly report (analytics.review.weekly): every query it needs, then frame math there ---


def week_totals(store: Store, start: datetime, end: datetime) -> pl.DataFrame:
    """Per deployment over [start, end): the request rollup's totals with the latency histograms
    the movers test (analytics.traffic.summary.changes)."""
    return queries.request_totals(store, start, end, fields=traffic.HIST_FIELDS)


def week_gpu(store: Store, slos: Sequence[Slo], start: datetime, end: datetime,
             request_hours: pl.DataFrame | None = None,
             ) -> tuple[tuple[pl.DataFrame, pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]:
    """(efficiency, right-sizing) per deployment for [start, end) and for the week before, each
    deployment judged by its objectives (analytics.slo.objectives) as on the GPU page; one read of
    both weeks (whole hours), split by hour. ``request_hours``: see analytics.gpu.pipeline.load."""
    objectives = objectives_by_deployment(queries.deployments_table(store), slos)
    data = gpu_pipeline.load(store, start - review_weekly.WEEK, end, fields=fields_of(objectives), request_hours=request_hours)

    def one(a: datetime, b: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
        part = gpu_efficiency.GpuData(a, b, data.gpu_hours.filter((pl.col("hour") >= a) & (pl.col("hour") < b)),
                          data.request_hours.filter((pl.col("slot") >= a) & (pl.col("slot") < b)), data.deployments)
        if part.gpu_hours.is_empty():
            return pl.DataFrame(), pl.DataFrame()
        return gpu_efficiency.efficiency(part, objectives), gpu_rightsizing.suggestions(part, objectives)[0]

    return one(start, end), one(start - review_weekly.WEEK, start)


def capacity_window(store: Store, end: datetime) -> tuple[datetime, datetime] | None:
    """The hours the capacity outlook of a period ending at ``end`` reads (None without data): the
    latest outlook (the Capacity page's, whose fits `warm` caches) for the last complete week and
    the one in progress; an older week's outlook as of its end."""
    span = queries.data_range(store)
    if span is None:
        return None
    return capacity_pipeline.window(span[0], span[1] if span[1] - end < review_weekly.WEEK else end)


NOT_SELECTED = "Seasonal naive (no backtest cached yet)"


def week_capacity(store: Store, slos: Sequence[Slo], end: datetime, cache_dir: Path | None,
                  request_hours: pl.DataFrame | None = None) -> tuple[pl.DataFrame, list[str]]:
    """The capacity outlook with the Capacity page's default scenario
    (analytics.capacity.pipeline.default_params, method auto): each deployment's backtest-selected
    plan read from the disk cache, the seasonal-naive forecast (instant) for deployments whose
    backtest or winning fit is not cached; nothing is backtested or fitted here.
    Returns the outlook table with ``state`` (the raw state word of analytics.review.verdicts) and
    ``forecast_model`` (the label of the model behind each plan),
    and a caveat saying as of when and which deployments fell back. As of the end of the data when
    ``end`` is less than a week before it (the latest outlook), else as of ``end``.
    ``request_hours``: the hourly request_slots frame of every deployment (the objectives'
    fields) over a window holding capacity_window's, when the caller has read it already."""
    window = capacity_window(store, end)
    deployments = queries.deployments_table(store)
    if window is None or deployments.is_empty():
        return capacity_plan.outlook_table(capacity_plan.Assessment({}, {}, pl.DataFrame(), {})).with_columns(
            pl.lit(None, pl.String).alias("state"), pl.lit(None, pl.String).alias("forecast_model")), []
    start, stop = window
    names = deployments["deployment"].to_list()
    series = capacity_pipeline.histories(capacity_pipeline.hourly_demand(store, start, stop), names, capacity_pipeline.DEFAULT_METRIC)
    params = capacity_pipeline.default_params()
    ready = capacity_pipeline.cached_plans(capacity_pipeline.DEFAULT_METHOD, series, params, cache_dir)
    cached = {n: h for n, h in series.items() if n in ready}
    naive = {n: h for n, h in series.items() if n not in cached}
    fits, chosen = (capacity_pipeline.planned(capacity_pipeline.DEFAULT_METHOD, cached, params, cache_dir, workers=1)
                    if cached else (capacity_cache.Fits(), {}))
    fallback = capacity_pipeline.forecasts("seasonal_naive", naive, params, None, workers=1) if naive else capacity_cache.Fits()
    objectives = objectives_by_deployment(deployments, slos)
    # only the histograms the objectives judge (each merged histogram costs a pass over the rollup)
    hours = capacity_queries.hourly_histograms(store, start, stop, names, fields=fields_of(objectives),
                                               slots=request_hours)
    throughputs = capacity_plan.measure_all(hours, deployments, objectives, capacity_pipeline.DEFAULT_METRIC, names)
    assessment = capacity_plan.assess(fits.results | fallback.results, throughputs, deployments)
    states = {name: review_verdicts.capacity_verdict(o, stop).state for name, o in assessment.outlooks.items()}
    table = capacity_plan.outlook_table(assessment, fits.errors | fallback.errors).with_columns(
        pl.col("deployment").replace_strict(states, default=None, return_dtype=pl.String).alias("state"),
        pl.col("deployment").replace_strict(
            {name: capacity_forecast.MODEL_LABELS[pick.winner] for name, pick in chosen.items()},
            default=pl.lit(NOT_SELECTED), return_dtype=pl.String).alias("forecast_model"))
    caveats = [f"Capacity outlook as of {stop:%Y-%m-%d %H:%M} UTC, the Capacity page's default scenario "
               f"({params.horizon.days // 7} weeks ahead, {params.interval_width:.0%} interval)"
               + (f"; no cached backtest-selected plan for {len(naive)} of {len(series)} deployments, whose outlook "
                  "uses the seasonal-naive forecast (the Capacity page or `python -m analytics forecast` fits them)."
                  if naive else "; each deployment's backtest-selected model, from the cache.")]
    return table.select("deployment", "state", *[c for c in table.columns if c not in ("deployment", "state")]), caveats


def shared_request_hours(store: Store, slos: Sequence[Slo], start: datetime, end: datetime) -> pl.DataFrame | None:
    """One read of the hourly request rollup (every deployment, the objectives' histograms) for
    both the GPU section (the week and the one before) and the capacity outlook, when the
    outlook's window holds the GPU section's (the usual case: a recent week); else None and each
    reads its own. Merging histograms is the costly part of both reads."""
    window = capacity_window(store, end)
    gpu_start, gpu_end = gpu_efficiency.hour_window(start - review_weekly.WEEK, end)
    if window is None or not (window[0] <= gpu_start and gpu_end <= window[1]):
        return None
    objectives = objectives_by_deployment(queries.deployments_table(store), slos)
    return queries.request_slots(store, *window, step_seconds=3600, fields=fields_of(objectives))


def report(store: Store, slos: Sequence[Slo], week: str, cache_dir: Path | None = capacity_cache.DEFAULT_CACHE_DIR,
           gap: timedelta = review_incidents.GAP, group_by: str | None = None) -> review_weekly.WeeklyReport:
    """The weekly review of an ISO week (YYYY-Www): SLOs (rolled up by label ``group_by``, default
    the first), incidents with attribution, changes and notes, latency and error movers, GPU cost
    and the capacity outlook. Raises InputError when the week holds no request data."""
    start, end = iso_week(week)
    current = week_totals(store, start, end)
    if current.is_empty() or not current["requests"].sum():
        raise InputError(f"week {week}: no request data between {start:%Y-%m-%d} and {end:%Y-%m-%d} UTC")
    review = weekly(store, slos, start, end, gap)
    keys = [review_weekly.incident_key(r["lead_slo"], r["start"]) for r in review.incidents.iter_rows(named=True)]
    notes = store_review.read_notes(store, keys, review.incidents["lead_slo"].unique().to_list())
    changed = review_weekly.week_changes(current, week_totals(store, start - review_weekly.WEEK, start))
    hours = shared_request_hours(store, slos, start, end)
    (gpu_now, saving_now), (gpu_before, saving_before) = week_gpu(store, slos, start, end, hours)
    capacity, caveats = week_capacity(store, slos, end, cache_dir, hours)
    # the Overview's checks of deployments no SLO covers and of GPU memory (analytics.review.verdicts)
    watched = review_verdicts.covered(slos, slo_queries.catalog(store, start, end))
    built = review_weekly.build(week, start, end, review.evaluations, review.incidents, review.spans, review.attribution,
                   review.changes, notes, changed, review_weekly.gpu_table(gpu_now, gpu_before, saving_now, saving_before),
                   capacity, caveats, watched=watched, peaks=gpu_pipeline.peak_memory(store, start, end),
                   group_by=group_by)
    applied = review_weekly.corrections_table(review.evaluations, slo_pipeline.stored_corrections(store, start, end), start, end)
    return review_weekly.with_corrections(built, applied)


def add_note(store: Store, key: str, note: str, owner: str, at: datetime | None = None) -> None:
    """Store a reviewer's note and owner for an incident (analytics.store.review.write_note);
    InputError for an empty note or owner, or text over the limits."""
    key, note, owner = key.strip(), note.strip(), owner.strip()
    for name, value, limit in (("incident", key, 200), ("note", note, NOTE_MAX), ("owner", owner, OWNER_MAX)):
        if not value:
            raise InputError(f"{name}: must not be empty")
        if len(value) > limit:
            raise InputError(f"{name}: at most {limit} characters, got {len(value)}")
    store_review.write_note(store, key, note, owner, at or datetime.now(UTC))


NOTE_MAX = 2000  # a paragraph; the export prints it in a table cell
OWNER_MAX = 100
