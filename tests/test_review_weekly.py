"""Spec for the weekly review's numbers and paragraph (analytics.review.weekly via pipeline.report) on
the demo fleet, whose ISO week 2026-W43 holds the latency regression and the region outage."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics import columns
from analytics.errors import InputError
from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.review import weekly as review_weekly
from analytics.slo import files
from analytics.traffic import summary as traffic_summary
from tests.conftest import DEMO_END

WEEK = "2026-W43"
REGRESSED = ("chat-llama3-8b-use-ttft", "chat-llama3-8b-use-goodput")


@pytest.fixture(scope="module")
def slos():
    return files.load_slos(files.PROJECT_SLO_FILE)


@pytest.fixture(scope="module")
def report(store, slos, tmp_path_factory):
    # an empty forecast cache: the capacity outlook must fall back to the seasonal-naive forecast
    return review_pipeline.report(store, slos, WEEK, tmp_path_factory.mktemp("forecast-cache"))


def test_the_default_week_is_the_last_complete_one():
    assert review_weekly.last_complete_week(DEMO_END) == WEEK  # the data ends on Sunday 2026-11-01 00:00
    assert review_weekly.last_complete_week(datetime(2026, 10, 26, tzinfo=UTC)) == WEEK  # ends exactly on Monday
    assert review_weekly.weeks_between(datetime(2026, 10, 19, 5, tzinfo=UTC), DEMO_END) == ["2026-W44", "2026-W43"]


def test_the_regressed_slos_spent_more_budget_than_the_week_before(report):
    slos = report.tables["slos"]
    for name in REGRESSED:
        row = slos.filter(pl.col("slo") == name).row(0, named=True)
        assert row["budget_spent_this_week"] > 0.5 > row["budget_spent_previous_week"], row
        assert row["spent_change"] == pytest.approx(row["budget_spent_this_week"] - row["budget_spent_previous_week"])
        assert row["incidents"] >= 1 and 0 <= row["budget_remaining"] < 0.25
    # worst first
    assert slos["slo"][0] in REGRESSED


def test_the_regression_incident_carries_its_cause_and_the_rollout_before_it(report):
    incidents = report.tables["incidents"]
    row = incidents.filter(pl.col("deployments") == "chat-llama3-8b-use").row(0, named=True)
    assert row["top_cause"].startswith("Model version v2")
    assert "model_version v1 → v2" in row["preceding_changes"]
    assert row["incident_key"] == review_weekly.incident_key(row["incident_key"].split("@")[0], row["start"])
    outage = incidents.filter(pl.col("top_cause").str.starts_with("Region eu-west"))
    assert outage.height == 1
    attribution = report.tables["attribution"]
    assert set(attribution["incident_key"]) == set(incidents["incident_key"])
    assert attribution.group_by("incident_key").len()["len"].max() <= review_weekly.TOP_CAUSES


def test_the_paragraph_says_what_got_worse_and_what_needs_an_owner(report):
    text = report.summary
    assert text.startswith(f"Week {WEEK}: 2 incidents (2 paging")
    worse = re.search(r"Worse: (.*?)\. [A-Z]", text).group(1)  # up to the next sentence (numbers hold dots)
    assert all(name in worse for name in REGRESSED), text
    owners = text.split("Needs an owner: ")[1]
    for row in report.tables["incidents"].iter_rows(named=True):  # (another test may have noted one)
        assert (f"incident {row['incident']} (" in owners) == (not row["owner"]), row
    assert "SLO chat-llama3-8b-use-ttft (at risk)" in owners
    assert "GPUs cost $" in text


def test_movers_compare_the_week_with_the_week_before(report):
    movers = report.tables["movers"]
    assert set(movers["metric"]) <= set(review_weekly.MOVER_METRICS) and movers.height
    assert all((d == "worse") == (z > 0) for d, z in movers.select("direction", "z").iter_rows())
    assert (movers["z"].abs() >= traffic_summary.SIGNIFICANT_Z).all(), "only changes beyond chance are movers"
    # the eu-west outage raised the error rate of an eu-west deployment
    assert movers.filter(pl.col("deployment").str.ends_with("-euw") & (pl.col("metric") == "error_rate")
                         & (pl.col("direction") == "worse")).height


def test_gpu_cost_and_savings_are_compared_with_last_week(report):
    gpu, totals = report.tables["gpu"], report.gpu_totals
    assert totals["cost"] == pytest.approx(gpu["cost"].sum()) and totals["cost"] > 0
    assert totals["cost_previous"] > 0 and totals["idle_cost"] is not None
    assert totals["monthly_saving"] is not None


def test_without_a_cached_fit_the_capacity_outlook_uses_seasonal_naive_and_says_so(report):
    capacity = report.tables["capacity"]
    assert capacity.height and set(capacity["forecast_model"]) == {review_pipeline.NOT_SELECTED}
    assert any("seasonal-naive" in c for c in report.caveats)


def test_a_cached_backtest_selected_plan_is_read_and_nothing_is_fitted(store, slos, tmp_path):
    from analytics.capacity import forecast as capacity_forecast
    from analytics.capacity import pipeline as capacity_pipeline
    from analytics.store import queries

    name = "chat-llama3-8b-use"
    start, end = capacity_pipeline.window(*queries.data_range(store)[:2])  # W43 is the last complete week: the latest outlook
    history = capacity_pipeline.histories(capacity_pipeline.hourly_demand(store, start, end), [name], capacity_pipeline.DEFAULT_METRIC)
    _, chosen = capacity_pipeline.planned(capacity_pipeline.DEFAULT_METHOD, history, capacity_pipeline.default_params(),
                                          tmp_path, workers=1)  # what `warm` does
    cached = sorted(p.name for p in tmp_path.iterdir())
    capacity = review_pipeline.report(store, slos, WEEK, tmp_path).tables["capacity"]
    methods = dict(capacity.select("deployment", "forecast_model").iter_rows())
    assert methods.pop(name) == capacity_forecast.MODEL_LABELS[chosen[name].winner]
    assert set(methods.values()) == {review_pipeline.NOT_SELECTED}
    assert sorted(p.name for p in tmp_path.iterdir()) == cached  # no fit was made or written


def test_every_csv_reads_back_to_the_table_shown_with_registry_names_and_raw_values(report):
    files = review_report.bundle(report)
    for name, frame in report.tables.items():
        expected = columns.csv_frame(frame)
        back = pl.read_csv(io.BytesIO(files[f"{name}.csv"]), schema=expected.schema)
        assert back.columns == [columns.csv_name(c) for c in frame.columns], name
        assert back.equals(expected), name
        for column, dtype in frame.schema.items():  # raw numbers, rounded per kind only
            if dtype.is_float() and frame[column].drop_nulls().len():
                assert (back[columns.csv_name(column)] - frame[column]).abs().max() < 0.5, (name, column)


def test_a_note_and_owner_persist_and_the_paragraph_stops_asking_for_an_owner(store, slos, report, tmp_path):
    key = report.tables["incidents"].filter(pl.col("deployments") == "chat-llama3-8b-use")["incident_key"][0]
    note = "rolled back v2'); DROP TABLE review_notes; -- <b>*not*</b> {key:String} markdown"
    review_pipeline.add_note(store, key, note, "alice")
    again = review_pipeline.report(store, slos, WEEK, tmp_path)
    row = again.tables["incidents"].filter(pl.col("incident_key") == key).row(0, named=True)
    assert (row["note"], row["owner"]) == (note, "alice")  # bound parameters: stored as typed
    assert "<b>" not in review_report.html_page(again) and "&lt;b&gt;*not*&lt;/b&gt;" in review_report.html_page(again)
    n = row["incident"]
    assert f"incident {n} " not in again.summary.split("Needs an owner: ")[1]


def test_formula_like_text_in_a_csv_is_neutralised_and_numbers_are_not():
    frame = pl.DataFrame({"note": ["=HYPERLINK(1)", "+1 555", "@SUM", "-3.5%", "ok", None], "n": [1, 2, 3, 4, 5, 6]})
    safe = review_report.csv_safe(frame)
    assert safe["note"].to_list() == ["'=HYPERLINK(1)", "'+1 555", "'@SUM", "-3.5%", "ok", None]
    assert safe["n"].to_list() == frame["n"].to_list()


@pytest.mark.parametrize(("note", "owner", "message"), [("", "bob", "note: must not be empty"),
                                                        ("x", "  ", "owner: must not be empty"),
                                                        ("x" * 2001, "bob", "note: at most 2000 characters")])
def test_a_bad_note_is_one_clear_error_and_nothing_is_written(store, note, owner, message):
    with pytest.raises(InputError, match=message):
        review_pipeline.add_note(store, "some-slo@2026-10-20T00:00Z", note, owner)


def test_a_week_without_data_is_one_clear_error(store, slos):
    with pytest.raises(InputError, match="week 2025-W01: no request data"):
        review_pipeline.report(store, slos, "2025-W01", None)


def test_the_bench_case_times_the_report_of_the_last_complete_week(store):
    from analytics.cli.bench import review as bench

    cases = bench.bench(store)
    assert [case.name for case in cases][:2] == [f"report --week {WEEK}, cold",
                                                  f"report --week {WEEK}, warm (median of {bench.WARM_RUNS})"]
    assert all(case.seconds > 0 for case in cases)


def test_a_note_written_under_an_earlier_start_of_the_incident_stays_with_it():
    start, end = datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 26, 4, 40, tzinfo=UTC)
    incidents = pl.DataFrame({"incident_key": ["fleet-availability@2026-11-26T04:00Z", "other@2026-11-27T10:00Z"],
                              "start": [start, start + timedelta(days=1, hours=6)],
                              "end": [end, end + timedelta(days=1, hours=6)]})
    written = datetime(2026, 11, 30, tzinfo=UTC)
    notes = pl.DataFrame({
        # keyed by the alert's start (04:05), before incidents ran from where the budget burned (04:00)
        "incident_key": ["fleet-availability@2026-11-26T04:05Z", "fleet-availability@2026-11-26T05:00Z",
                         "other@2026-11-26T10:05Z"],
        "note": ["eu-west LB drained", "a later incident", "another SLO's"], "owner": ["ana", "bo", "cy"],
        "written_at": [written] * 3})
    attached = review_weekly.noted(incidents, notes)
    assert attached.select("incident_key", "note", "owner").rows() == [
        ("fleet-availability@2026-11-26T04:00Z", "eu-west LB drained", "ana")]
    still_burning = incidents.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("end"))
    assert review_weekly.noted(still_burning, notes.head(1))["note"].to_list() == ["eu-west LB drained"]


def test_the_review_lists_the_slo_files_weekly_maintenance_window_applied_that_week(report):
    # slos.yaml: code-ttft's maintenance, Sundays 02:00 to 04:00 UTC; in 2026-W43, Sunday 2026-10-25
    (row,) = report.tables["corrections"].iter_rows(named=True)
    assert (row["start"], row["end"], row["slos"]) == (datetime(2026, 10, 25, 2, tzinfo=UTC),
                                                       datetime(2026, 10, 25, 4, tzinfo=UTC), "code-ttft")
    assert row["correction_reason"].startswith("Weekly maintenance") and row["added_by"] == "slos.yaml"
    assert row["excluded_events"] > 0
    html = review_report.html_page(report)
    assert "Budget corrections" in html and "Weekly maintenance of the code-assist fleet" in html
    assert "1 budget correction window excluded" in report.summary
