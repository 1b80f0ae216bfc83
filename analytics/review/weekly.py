"""The weekly reliability review as tables and one paragraph, from frames (no queries here).

    report = analytics.review.pipeline.report(store, slos, "2026-W43")
    report.summary            # what got worse, what got better, what needs an owner
    report.tables["slos"]     # budget spent this week and the week before, budget remaining
    report.tables["incidents"]  # with the top attribution, the changes before them and notes
    report.tables["groups"]   # the SLOs rolled up by a label (report.group_by), when they carry labels

Every table is a polars frame; the page shows them, the export writes one CSV per table
(analytics.review.report). The paragraph is assembled from the numbers by fixed sentences: no
language model, so the same week always reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import polars as pl

from analytics import columns as column_registry
from analytics.errors import InputError
from analytics.review import verdicts as review_verdicts
from analytics.review.incidents import budget_spent
from analytics.slo import corrections as slo_corrections
from analytics.slo import groups as slo_groups
from analytics.slo.budget import prefix
from analytics.slo.evaluation import Evaluation
from analytics.slo.state import ATTENTION, SHORT
from analytics.traffic import summary as traffic

WEEK = timedelta(days=7)
# A change "preceded" an incident when it landed up to this long before the incident began. One
# day: the review's look-back (analytics.review.pipeline.LOOKBACK); Google's SRE book (ch. 1,
# "Change Management") puts roughly 70% of outages on live changes, most of them found soon after.
PRECEDING = timedelta(days=1)
MOVER_METRICS = ("error_rate", "ttft_p99_ms", "e2e_p99_ms")  # the review's movers: errors and latency
COST_MOVE = 0.01  # a GPU cost change under 1% is neither worse nor better
TOP_CAUSES = 3  # attribution rows per incident in the export

# Tables in the order the page and the export show them (name -> title).
TABLES = {
    "slos": "SLOs",
    "groups": "SLOs by label",  # titled "By <label>" (WeeklyReport.title)
    "incidents": "Incidents",
    "attribution": "Attribution",
    "changes": "Changes",
    "movers": "Latency and error movers",
    "gpu": "GPU cost",
    "capacity": "Capacity outlook",
    "corrections": "Budget corrections",
}


def week_text(start: datetime) -> str:
    """The ISO week holding ``start`` as YYYY-Www."""
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(data_end: datetime) -> str:
    """The last ISO week that ends at or before ``data_end`` (Monday 00:00 UTC boundaries)."""
    day = data_end.astimezone(UTC)
    monday = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    return week_text(monday - WEEK)


def weeks_between(data_start: datetime, data_end: datetime) -> list[str]:
    """Every ISO week touching [data_start, data_end), newest first."""
    day = data_start.astimezone(UTC)
    monday = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    weeks = []
    while monday < data_end:
        weeks.append(week_text(monday))
        monday += WEEK
    return weeks[::-1]


def incident_key(lead_slo: str, start: datetime) -> str:
    """A key stable across runs: the lead SLO and the start time, e.g. 'fleet-availability@2026-10-22T14:05Z'."""
    return f"{lead_slo}@{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def slo_table(evaluations: Sequence[Evaluation], start: datetime, end: datetime, spans: pl.DataFrame) -> pl.DataFrame:
    """Per SLO: state, budget spent this week and the week before, the change, budget remaining.

    Both weeks' spending is bad units in the week as a share of the window's error budget at the
    evaluation time (the week's end), so the two are on one scale (SRE Workbook ch. 2: budget =
    (1 - SLO) x valid events); the window's budget at the previous week's end would need a window
    of history more.
    """
    rows = []
    for e in evaluations:
        s = e.status
        verdict = review_verdicts.slo_verdict(e)
        this, previous = budget_spent(e, start, end), budget_spent(e, start - WEEK, start)
        rows.append({
            "slo": e.slo.name, "state": verdict.state, "target": e.slo.target, "window": e.slo.window.label,
            "budget_spent_this_week": this, "budget_spent_previous_week": previous,
            "spent_change": this - previous, "budget_remaining": s.remaining, "attainment": s.attainment,
            "incidents": int((spans["slo"] == e.slo.name).sum()) if spans.height else 0, "why": verdict.why,
            # the error budget policy applies once the budget is exhausted (SRE Workbook, appendix B)
            "policy": (e.slo.policy or None) if verdict.state == "breached" else None,
        })
    schema = {"slo": pl.String, "state": pl.String, "target": pl.Float64, "window": pl.String,
              "budget_spent_this_week": pl.Float64, "budget_spent_previous_week": pl.Float64,
              "spent_change": pl.Float64, "budget_remaining": pl.Float64, "attainment": pl.Float64,
              "incidents": pl.Int64, "why": pl.String, "policy": pl.String}
    frame = pl.DataFrame(rows, schema=schema)
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).sort(
        "budget_spent_this_week", "slo", descending=[True, False], nulls_last=True)


def group_key(keys: Sequence[str], group_by: str | None) -> str | None:
    """The label the review rolls up by: ``group_by``, else the first of ``keys`` (None without
    labels); InputError for a label no SLO has."""
    if group_by is not None and group_by not in keys:
        raise InputError(f"--group-by {group_by}: no SLO has that label (labels: {', '.join(keys) or 'none'})")
    return group_by or (keys[0] if keys else None)


def group_table(evaluations: Sequence[Evaluation], start: datetime, end: datetime, key: str) -> pl.DataFrame:
    """The SLOs rolled up by label ``key`` over [start, end) (analytics.slo.groups.roll_up, the SLOs
    page's Group by): per label value the worst state, the budget spent in the week (as the SLO
    table counts it: a share of the window's budget) weighted by the SLOs' valid events in the
    week, how many SLOs and how many breached."""
    def week_spent(e: Evaluation) -> tuple[float, float]:
        events = prefix(e.units.events)
        return budget_spent(e, start, end), float(events[e.grid.index(end)] - events[e.grid.index(start)])

    return slo_groups.roll_up(evaluations, key, week_spent).rename(
        {"budget_spent": "budget_spent_this_week", "valid_events": "valid_events_this_week"})


def _cause(ranked: pl.DataFrame) -> str:
    if ranked.is_empty():
        return ""
    top = ranked.row(0, named=True)
    return f"{column_registry.label(top['dimension'])} {top['value']} ({top['bad_share']:.0%} of bad events, {top['good_share']:.0%} of good)"


NOTE_SCHEMA = {"incident_key": pl.String, "note": pl.String, "owner": pl.String,
               "written_at": pl.Datetime("us", "UTC")}


def incident_table(incidents: pl.DataFrame, attribution: pl.DataFrame, changes: pl.DataFrame,
                   notes: pl.DataFrame) -> pl.DataFrame:
    """Per incident: key, times, severity, SLOs, deployments, budget, the top attribution, the
    changes of its deployments in the PRECEDING day, and the latest note and owner."""
    rows = []
    for r in incidents.iter_rows(named=True):
        deployments = [d for d in r["deployments"].split(", ") if d]
        before = changes.filter(pl.col("deployment").is_in(deployments) & (pl.col("ts") <= r["start"])
                                & (pl.col("ts") >= r["start"] - PRECEDING))
        rows.append({
            "incident_key": incident_key(r["lead_slo"], r["start"]), "incident": r["incident"], "start": r["start"],
            "end": r["end"], "duration_min": r["duration_min"], "severity": r["severity"], "slos": r["slos"],
            "deployments": r["deployments"], "budget_consumed": r["budget_consumed"], "peak_burn": r["peak_burn"],
            # null rather than '' when there is none, so the CSV reads back to the same table
            "top_cause": _cause(attribution.filter(pl.col("incident") == r["incident"])) or None,
            "preceding_changes": "; ".join(f"{c['ts']:%a %H:%M} {c['deployment']}: {c['description']}"
                                           for c in before.iter_rows(named=True)) or None,
        })
    schema = {"incident_key": pl.String, "incident": pl.Int64, "start": pl.Datetime("us", "UTC"),
              "end": pl.Datetime("us", "UTC"), "duration_min": pl.Float64, "severity": pl.String,
              "slos": pl.String, "deployments": pl.String, "budget_consumed": pl.Float64, "peak_burn": pl.Float64,
              "top_cause": pl.String, "preceding_changes": pl.String}
    frame = pl.DataFrame(rows, schema=schema)
    notes = notes.select(list(NOTE_SCHEMA)).cast(NOTE_SCHEMA) if notes.height else pl.DataFrame(schema=NOTE_SCHEMA)
    return frame.join(noted(frame, notes).rename({"written_at": "noted_at"}), on="incident_key", how="left")


def noted(incidents: pl.DataFrame, notes: pl.DataFrame) -> pl.DataFrame:
    """Each incident's note: the one written under its key, else the latest written under a key of
    the same lead SLO whose start lies in the incident (a note outlives a change in where an
    incident is said to start, e.g. alert episode starts before incidents ran as long as the burn)."""
    parts = notes.with_columns(pl.col("incident_key").str.split_exact("@", 1).alias("parts")).unnest("parts")
    parts = parts.with_columns(pl.col("field_0").alias("slo"),
                               pl.col("field_1").str.to_datetime("%Y-%m-%dT%H:%MZ", time_zone="UTC", strict=False)
                               .alias("at"))
    rows = []
    for r in incidents.select("incident_key", "start", "end").iter_rows(named=True):
        slo = r["incident_key"].split("@")[0]
        exact = parts.filter(pl.col("incident_key") == r["incident_key"])
        before_end = pl.col("at") < r["end"] if r["end"] is not None else pl.lit(True)  # None: still burning
        inside = parts.filter((pl.col("slo") == slo) & (pl.col("at") >= r["start"]) & before_end)
        found = exact if exact.height else inside.sort("written_at").tail(1)
        if found.height:
            rows.append(found.select(list(NOTE_SCHEMA)).with_columns(pl.lit(r["incident_key"]).alias("incident_key")))
    return pl.concat(rows) if rows else pl.DataFrame(schema=NOTE_SCHEMA)


def attribution_table(incidents: pl.DataFrame, attribution: pl.DataFrame, top: int = TOP_CAUSES) -> pl.DataFrame:
    """The ``top`` ranked dimension values per incident, keyed like the incident table."""
    keys = incidents.select("incident", pl.struct("lead_slo", "start").map_elements(
        lambda s: incident_key(s["lead_slo"], s["start"]), return_dtype=pl.String).alias("incident_key"))
    if attribution.is_empty():
        return keys.join(attribution, on="incident").select("incident_key", *attribution.columns)
    ranked = attribution.filter(pl.col("rank") <= top).join(keys, on="incident")
    return ranked.select("incident_key", *attribution.columns).sort("incident", "rank")


def week_changes(current: pl.DataFrame, previous: pl.DataFrame, metrics: Sequence[str] = MOVER_METRICS) -> pl.DataFrame:
    """Every deployment's latency and error changes week over week from the two weeks' request totals
    (queries.request_totals with analytics.traffic.summary.HIST_FIELDS), by the Overview's rule
    (analytics.traffic.summary.changes: a test on the counts, relative change only above a minimum
    baseline, else 'new')."""
    return traffic.changes(current, previous, WEEK.total_seconds(), tuple(metrics))


def mover_table(changed: pl.DataFrame, top: int = 10) -> pl.DataFrame:
    """The ``top`` significant changes of week_changes, strongest evidence first
    (analytics.traffic.summary.movers), with ``direction`` worse or better (a rise in errors or
    latency is worse)."""
    moved = traffic.movers(changed, top=top)
    return moved.with_columns(pl.when(pl.col("z") > 0).then(pl.lit("worse")).otherwise(pl.lit("better"))
                              .alias("direction"))


def gpu_table(current: pl.DataFrame, previous: pl.DataFrame, saving: pl.DataFrame,
              saving_previous: pl.DataFrame) -> pl.DataFrame:
    """Per deployment: GPU cost and idle cost this week and the week before (analytics.gpu.efficiency),
    and the monthly right-sizing saving suggested from each week (analytics.gpu.rightsizing)."""
    def part(frame: pl.DataFrame, columns: Mapping[str, str]) -> pl.DataFrame:
        schema = {"deployment": pl.String} | dict.fromkeys(columns.values(), pl.Float64)
        if frame.is_empty():
            return pl.DataFrame(schema=schema)
        return frame.select("deployment", *(pl.col(k).cast(pl.Float64).alias(v) for k, v in columns.items()))

    joined = part(current, {"cost": "cost", "idle_cost": "idle_cost"})
    for frame, columns in ((previous, {"cost": "cost_previous", "idle_cost": "idle_cost_previous"}),
                           (saving, {"monthly_saving": "monthly_saving"}),
                           (saving_previous, {"monthly_saving": "monthly_saving_previous"})):
        joined = joined.join(part(frame, columns), on="deployment", how="full", coalesce=True)
    order = ["deployment", "cost", "cost_previous", "idle_cost", "idle_cost_previous", "monthly_saving",
             "monthly_saving_previous"]
    return joined.select(order).with_columns(
        ((pl.col("cost") - pl.col("cost_previous")) / pl.col("cost_previous")).alias("cost_change")
    ).with_columns(pl.col("cost_change").fill_nan(None)).sort("cost", "deployment", descending=[True, False],
                                                              nulls_last=True)


def gpu_totals(gpu: pl.DataFrame) -> dict[str, float | None]:
    """Fleet sums of the GPU table's money columns (None when nothing is priced)."""
    out = {}
    for column in ("cost", "cost_previous", "idle_cost", "idle_cost_previous", "monthly_saving",
                   "monthly_saving_previous"):
        values = gpu[column].drop_nulls() if gpu.height else pl.Series([], dtype=pl.Float64)
        out[column] = float(values.sum()) if values.len() else None
    return out


@dataclass(frozen=True)
class WeeklyReport:
    """A week's review: its bounds, the paragraph, the tables (TABLES order) and notes about the method."""

    week: str
    start: datetime
    end: datetime
    summary: str
    tables: dict[str, pl.DataFrame]
    gpu_totals: dict[str, float | None]
    caveats: tuple[str, ...]
    groups: dict[str, pl.DataFrame] = field(default_factory=dict)  # label key -> group_table, every key
    group_by: str | None = None  # the key tables["groups"] rolls up by (None: the SLOs carry no labels)

    def title(self, name: str) -> str:
        """A table's title: TABLES', "By <label>" for the roll-up."""
        return f"By {self.group_by}" if name == "groups" and self.group_by else TABLES[name]

    @property
    def shown(self) -> tuple[str, ...]:
        """The tables the report shows, TABLES order: the roll-up only when the SLOs carry labels."""
        return tuple(name for name in TABLES if name != "groups" or self.group_by)


def _relative(now: float | None, before: float | None) -> str:
    if now is None or before is None or before == 0:
        return ""
    return f" ({(now - before) / before:+.0%} vs the week before)"


def _moved(row: Mapping) -> str:
    """'error rate of chat-a rose from 0.10% to 3.70% (+3,600%)', or '(new)' below the minimum baseline."""
    metric = row["metric"]
    verb = "rose" if row["current"] > row["previous"] else "fell"
    change = ("new" if row["change"] is None
              else ("+" if row["change"] > 0 else "") + column_registry.text("change", row["change"]))
    return (f"{column_registry.in_sentence(metric)} of {row['deployment']} {verb} from "
            f"{column_registry.text(metric, row['previous'])} to {column_registry.text(metric, row['current'])} ({change})")


def _spent(row: Mapping, week: str) -> str:
    """Budget spent this or the previous week, as the SLO table shows it."""
    name = f"budget_spent_{week}_week"
    return column_registry.text(name, row[name])


def _listed(items: Sequence[str], most: int = 4, sep: str = "; ") -> str:
    """'a; b; c and 2 more' (at most ``most`` items named)."""
    shown = sep.join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def summary(week: str, slos: pl.DataFrame, incidents: pl.DataFrame, movers: pl.DataFrame,
            totals: Mapping[str, float | None], capacity: pl.DataFrame,
            watch: Sequence[review_verdicts.Verdict] = ()) -> str:
    """One paragraph from the numbers: the week, what got worse, what got better, what needs an owner
    (``watch``: the verdicts of deployments no SLO covers and of GPU memory, week_watch)."""
    pages = int((incidents["severity"] == "page").sum()) if incidents.height else 0
    hours = float(incidents["duration_min"].sum() or 0.0) / 60 if incidents.height else 0.0
    parts = [f"Week {week}: {incidents.height} incident{'s' if incidents.height != 1 else ''}"
             + (f" ({pages} paging, {hours:.1f} h in total)" if incidents.height else "") + "."]
    worse, better = [], []
    for r in slos.filter(pl.col("spent_change").is_not_null()).iter_rows(named=True):
        if r["spent_change"] >= 0.05:  # 5% of a budget: what one page tier spends (SRE Workbook Table 5-8)
            worse.append(f"{r['slo']} spent {_spent(r, 'this')} of its budget ({_spent(r, 'previous')} the week before)")
        elif r["spent_change"] <= -0.05:
            better.append(f"{r['slo']} spent {_spent(r, 'this')} of its budget (down from {_spent(r, 'previous')})")
    for r in movers.iter_rows(named=True):  # significant moves only (mover_table)
        (worse if r["direction"] == "worse" else better).append(_moved(r))
    cost, before = totals.get("cost"), totals.get("cost_previous")
    if cost is not None and before and abs(cost - before) >= COST_MOVE * before:
        (worse if cost > before else better).append(f"GPU cost {column_registry.text('cost', cost, digits=0)}{_relative(cost, before)}")
    parts.append(f"Worse: {_listed(worse)}." if worse else "Nothing got worse.")
    parts.append(f"Better: {_listed(better)}." if better else "Nothing got better.")
    owners = []
    if incidents.height:
        unowned = incidents.filter(pl.col("owner").fill_null("") == "")
        owners += [f"incident {r['incident']} ({r['severity']}, {r['start']:%a %H:%M} UTC, "
                   f"{r['incident_key'].split('@')[0]})" for r in unowned.iter_rows(named=True)]
    attention = [r for r in slos.iter_rows(named=True) if r["state"] in ATTENTION]
    owners += [f"SLO {r['slo']} ({r['state']}" + (f"; policy: {r['policy']}" if r.get("policy") else "") + ")"
               for r in attention]
    if capacity.height:
        for state in SHORT:
            names = capacity.filter(pl.col("state") == state)["deployment"].to_list()
            if names:
                owners.append(f"capacity {state} for {len(names)} deployment{'s' if len(names) > 1 else ''} "
                              f"({_listed(names, sep=', ')})")
    owners += [f"{v.name} ({v.why})" for v in watch]
    parts.append(f"Needs an owner: {_listed(owners, 8)}." if owners else "Nothing needs an owner.")
    idle, saving = totals.get("idle_cost"), totals.get("monthly_saving")
    if cost is not None:
        parts.append(f"GPUs cost {column_registry.text('cost', cost, digits=0)} this week, {column_registry.text('idle_cost', idle, digits=0)} of "
                     f"it idle; right-sizing would save {column_registry.text('monthly_saving', saving, digits=0)} a month{_relative(saving, totals.get('monthly_saving_previous'))}.")
    return " ".join(parts)


def build(week: str, start: datetime, end: datetime, evaluations: Sequence[Evaluation], incidents: pl.DataFrame,
          spans: pl.DataFrame, attribution: pl.DataFrame, changes: pl.DataFrame, notes: pl.DataFrame,
          changed: pl.DataFrame, gpu: pl.DataFrame, capacity: pl.DataFrame, caveats: Sequence[str] = (),
          watched: set[str] | None = None, peaks: pl.DataFrame | None = None,
          group_by: str | None = None) -> WeeklyReport:
    """Assemble the week's tables and paragraph (``changed``: week_changes; ``gpu``: gpu_table;
    ``capacity``: the outlook table with ``state`` and ``forecast_model``; ``watched``: the deployments an
    SLO covers; ``peaks``: per deployment peak_mem_fraction, analytics.gpu.pipeline.peak_memory;
    ``group_by``: the label the "groups" table rolls up by, default the first label key).
    Without ``watched`` or ``peaks`` that check did not run, and a caveat says so."""
    incident_rows = incident_table(incidents, attribution, changes, notes)
    movers = mover_table(changed)
    slos = slo_table(evaluations, start, end, spans)
    totals = gpu_totals(gpu)
    keys = slo_groups.label_keys([e.slo for e in evaluations])
    group_by = group_key(keys, group_by)
    groups = {key: group_table(evaluations, start, end, key) for key in keys}
    tables = {
        "slos": slos, "groups": groups[group_by] if group_by else group_table([], start, end, ""),
        "incidents": incident_rows, "attribution": attribution_table(incidents, attribution),
        "changes": changes, "movers": movers, "gpu": gpu, "capacity": capacity,
        "corrections": corrections_table(evaluations, (), start, end),  # the file's; the page's: with_corrections
    }
    watch, unchecked = week_watch(changed, watched, peaks)
    text = summary(week, slos, incident_rows, movers, totals, capacity, watch)
    return WeeklyReport(week, start, end, text, tables, totals, (*caveats, *unchecked), groups, group_by)


def week_watch(changed: pl.DataFrame, watched: set[str] | None,
               peaks: pl.DataFrame | None) -> tuple[list[review_verdicts.Verdict], list[str]]:
    """The Overview's checks for the week: deployments no SLO covers whose errors or latency moved
    beyond chance (any of week_changes, not only the movers the table lists), and GPU memory peaks over the limit; and a caveat per check that
    could not run."""
    watch, unchecked = [], []
    if watched is None:
        unchecked.append("Deployments no SLO covers were not checked.")
    else:
        watch += review_verdicts.uncovered_verdicts(changed, watched)
    if peaks is None or peaks.is_empty():
        unchecked.append("GPU memory was not checked: no GPU telemetry this week.")
    else:
        watch += review_verdicts.memory_verdicts(peaks)
    return watch, unchecked


def corrections_table(evaluations: Sequence[Evaluation], page: Sequence[slo_corrections.Correction],
                      start: datetime, end: datetime) -> pl.DataFrame:
    """The budget corrections applied in [start, end): one row per correction window (clipped to
    the week), its SLOs, its reason, who added it, and the valid events it removed from its SLOs'
    budgets (analytics.slo.sli.sli_counts), summed over them."""
    windows: dict[tuple, dict] = {}  # (begin, end, correction) -> row
    for e in evaluations:
        excluded = e.counts.excluded_valid
        for c in slo_corrections.for_slo(e.slo, page):
            for begin, stop in c.windows(start, end):
                begin, stop = max(begin, start), min(stop, end)
                row = windows.setdefault((begin, stop, c), {
                    "start": begin, "end": stop, "slos": slo_corrections.slo_list(c), "correction_reason": c.reason,
                    "excluded_events": 0.0, "added_by": c.origin})
                if excluded is not None:
                    row["excluded_events"] += float(excluded[slo_corrections.slots_of(begin, stop, e.grid.start,
                                                                                       e.grid.n)].sum())
    schema = {"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"), "slos": pl.String,
              "correction_reason": pl.String, "excluded_events": pl.Float64, "added_by": pl.String}
    return pl.DataFrame(sorted(windows.values(), key=lambda r: (r["start"], r["slos"])), schema=schema)


def with_corrections(report: WeeklyReport, corrections: pl.DataFrame) -> WeeklyReport:
    """The report with its corrections table (corrections_table) and a sentence about it in the summary."""
    text = report.summary
    if corrections.height:
        events = column_registry.text("excluded_events", corrections["excluded_events"].sum())
        text += (f" {corrections.height} budget correction window{'s' if corrections.height != 1 else ''} "
                 f"excluded {events} events from the budgets.")
    return replace(report, summary=text, tables={**report.tables, "corrections": corrections})
