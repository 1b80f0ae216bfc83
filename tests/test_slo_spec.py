"""Spec for analytics.slo.spec and analytics.slo.openslo: SLO files become one frozen model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from analytics.errors import SpecError
from analytics.slo.files import load_slos, parse_documents
from analytics.slo.spec import (
    Budgeting,
    Selector,
    Sli,
    Window,
    format_duration,
    parse_slo,
    ratio_from_percent,
    revise,
    to_mapping,
)

ROOT = Path(__file__).resolve().parent.parent
OPENSLO = ROOT / "tests" / "data" / "openslo"


def slo(**fields):
    base = {"name": "s", "sli": "availability", "target": 99.9, "window": "28d"}
    return parse_slo(base | fields, "test.yaml")


@pytest.mark.parametrize(
    "percent, ratio",
    [
        pytest.param(99.9, 0.999, id="99.9 percent is 0.999"),
        pytest.param(99.95, 0.9995, id="99.95 percent is 0.9995 without float drift"),
        pytest.param("99.99", 0.9999, id="a quoted percentage works too"),
        pytest.param(50, 0.5, id="an integer percentage"),
    ],
)
def test_percent_becomes_the_nearest_ratio(percent, ratio):
    assert ratio_from_percent(percent) == ratio


def test_our_format_maps_every_field():
    s = slo(
        name="chat-ttft", description="d", deployments=["chat-*"], models="llama*", regions=["us-east"],
        sli={"latency": {"field": "ttft_ms", "threshold_ms": 500}}, target=99.5, window="7d",
        budgeting={"method": "timeslices", "slice": "10m", "slice_target": 95}, min_events=20,
    )
    assert s.sli == Sli("latency", field="ttft_ms", threshold_ms=500.0)
    assert s.target == 0.995 and s.window == Window("7d", length=timedelta(days=7))
    assert s.budgeting == Budgeting("timeslices", timedelta(minutes=10), 0.95)
    assert s.selector == Selector(("chat-*",), ("llama*",), ("us-east",))
    assert (s.min_events, s.description, s.source) == (20, "d", "test.yaml")


@pytest.mark.parametrize(
    "sli, expected",
    [
        pytest.param("availability", Sli("availability"), id="availability as a bare word"),
        pytest.param({"goodput": {"ttft_ms": 1000, "tpot_ms": 30}}, Sli("goodput", ttft_ms=1000.0, tpot_ms=30.0),
                     id="goodput takes both thresholds"),
    ],
)
def test_sli_forms(sli, expected):
    assert slo(sli=sli).sli == expected


@pytest.mark.parametrize(
    "fields, field_named",
    [
        pytest.param({"target": 100}, "target", id="a 100 percent target leaves no budget"),
        pytest.param({"target": 0.999}, "target_ratio", id="a ratio written as a percentage points to target_ratio"),
        pytest.param({"target": "high"}, "target", id="a target must be a number"),
        pytest.param({"target_ratio": 0.999}, "target", id="target and target_ratio together"),
        pytest.param({"window": "28x"}, "window", id="unknown window unit"),
        pytest.param({"window": "30m"}, "window", id="window shorter than an hour"),
        pytest.param({"window": "calendar-year"}, "window", id="calendar years are not supported"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="unknown time zone"),
        pytest.param({"timezone": "Europe/Paris"}, "timezone", id="time zone on a rolling window"),
        pytest.param({"sli": {"latency": {"field": "ttft", "threshold_ms": 5}}}, "sli.latency.field",
                     id="latency field must be a known column"),
        pytest.param({"sli": {"latency": {"field": "ttft_ms", "threshold_ms": -5}}}, "sli.latency.threshold_ms",
                     id="negative threshold"),
        pytest.param({"sli": {"goodput": {"ttft_ms": 100}}}, "sli.goodput.tpot_ms", id="goodput without tpot"),
        pytest.param({"sli": "throughput"}, "sli", id="unknown SLI"),
        pytest.param({"budgeting": "weekly"}, "budgeting.method", id="unknown budgeting method"),
        pytest.param({"budgeting": {"method": "timeslices", "slice": "7m", "slice_target": 95}}, "budgeting.slice",
                     id="slice not a multiple of the 5-minute rollup"),
        pytest.param({"budgeting": {"method": "timeslices", "slice": "5m"}}, "budgeting.slice_target",
                     id="timeslices need a slice target"),
        pytest.param({"budgeting": {"method": "ratio_timeslices", "slice": "1h", "slice_target": 95}},
                     "budgeting.slice_target", id="ratio timeslices take no slice target"),
        pytest.param({"min_events": -1}, "min_events", id="negative minimum traffic"),
        pytest.param({"deployments": [3]}, "deployments", id="deployment patterns are strings"),
        pytest.param({"treshold": 5}, "treshold", id="a misspelt field is not silently ignored"),
        pytest.param({"at_risk": {"budget_remaining": 0.25}}, "at_risk.budget_remaining",
                     id="at-risk budget given as a ratio, not percent"),
        pytest.param({"at_risk": {"budget_remaining": 120}}, "at_risk.budget_remaining",
                     id="at-risk budget above 100 percent"),
        pytest.param({"at_risk": {"time_to_exhaustion": "soon"}}, "at_risk.time_to_exhaustion",
                     id="at-risk time not a duration"),
        pytest.param({"at_risk": {"budget": 25}}, "at_risk", id="unknown at-risk key"),
        pytest.param({"partial_history_below": "95%"}, "partial_history_below", id="coverage threshold not a number"),
    ],
)
def test_invalid_fields_name_the_slo_and_the_field(fields, field_named):
    with pytest.raises(SpecError) as err:
        base = {"name": "s", "sli": "availability", "window": "28d"}
        if "target_ratio" in fields:
            base["target"] = 99
        elif "target" not in fields:
            base["target"] = 99
        parse_slo(base | fields, "test.yaml")
    message = str(err.value)
    assert message.startswith("test.yaml: SLO 's': ") and field_named in message


def test_an_slo_needs_a_name():
    with pytest.raises(SpecError, match="name"):
        parse_slo({"sli": "availability", "target": 99, "window": "7d"}, "f.yaml")


def test_defaults_apply_unless_the_slo_overrides_them():
    slos = parse_documents([{"defaults": {"window": "7d", "min_events": 5},
                             "slos": [{"name": "a", "sli": "availability", "target": 99},
                                      {"name": "b", "sli": "availability", "target": 99, "window": "30d"}]}])
    assert [s.window.label for s in slos] == ["7d", "30d"] and {s.min_events for s in slos} == {5}


def test_duplicate_names_are_rejected(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump({"slos": [{"name": "a", "sli": "availability", "target": 99, "window": "7d"}] * 2}))
    with pytest.raises(SpecError, match="'a'.*defined twice"):
        load_slos(path)


@pytest.mark.parametrize(
    "text, problem",
    [
        pytest.param("slos: [", "not valid YAML", id="broken YAML"),
        pytest.param("- 1\n- 2", "must be a mapping", id="a list of numbers"),
        pytest.param("name: x", "slos", id="a mapping without slos"),
    ],
)
def test_unreadable_files_say_what_is_wrong(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=problem):
        load_slos(path)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_slos(tmp_path / "absent.yaml")


AT = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    "window, timezone, start, end",
    [
        pytest.param("28d", None, datetime(2026, 9, 17, 12, tzinfo=UTC), AT, id="rolling 28 days ends now"),
        pytest.param("calendar-week", None, datetime(2026, 10, 12, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC),
                     id="calendar week starts on Monday"),
        pytest.param("calendar-month", None, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC),
                     id="calendar month has 31 days in October"),
        pytest.param("calendar-month", "America/New_York", datetime(2026, 10, 1, 4, tzinfo=UTC),
                     datetime(2026, 11, 1, 4, tzinfo=UTC), id="a New York month starts at 04:00 UTC in summer time"),
    ],
)
def test_window_bounds(window, timezone, start, end):
    s = slo(window=window, **({"timezone": timezone} if timezone else {}))
    assert s.window.start(AT) == start
    assert s.window.end(AT) == end
    assert s.window.period(AT) == (end - start if not s.window.rolling else timedelta(days=28))


def test_a_calendar_month_across_a_dst_change_is_an_hour_short():
    w = slo(window="calendar-month", timezone="America/New_York").window
    at = datetime(2026, 3, 20, tzinfo=UTC)  # US summer time starts on 8 March 2026
    assert w.start(at) == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert w.period(at) == timedelta(days=31) - timedelta(hours=1)


def test_december_rolls_into_the_next_year():
    w = slo(window="calendar-month").window
    at = datetime(2026, 12, 31, 23, 55, tzinfo=UTC)
    assert (w.start(at), w.end(at)) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("span, text", [(timedelta(minutes=5), "5m"), (timedelta(hours=24), "1d"),
                                        (timedelta(hours=6), "6h"), (timedelta(days=3), "3d"),
                                        (timedelta(seconds=90), "90s")], ids=lambda x: str(x))
def test_durations_print_in_the_shortest_exact_unit(span, text):
    assert format_duration(span) == text


def test_at_risk_and_partial_history_thresholds_are_read_per_slo_with_defaults():
    slos = parse_documents([{"defaults": {"window": "28d", "at_risk": {"budget_remaining": 40}},
                             "slos": [{"name": "a", "sli": "availability", "target": 99},
                                      {"name": "b", "sli": "availability", "target": 99,
                                       "at_risk": {"time_to_exhaustion": "12h"}, "partial_history_below": 80}]}])
    a, b = slos
    assert (a.thresholds.budget_remaining, a.thresholds.time_to_exhaustion, a.thresholds.min_covered) == (
        0.4, timedelta(days=3), 0.95)
    # an SLO's own at_risk replaces the defaults' mapping as a whole, like every other key
    assert (b.thresholds.budget_remaining, b.thresholds.time_to_exhaustion, b.thresholds.min_covered) == (
        0.25, timedelta(hours=12), 0.8)


def test_to_mapping_round_trips_through_the_parser():
    original = slo(sli={"goodput": {"ttft_ms": 900, "tpot_ms": 25}}, target=99.95, window="calendar-week",
                   timezone="Europe/Paris", budgeting={"method": "timeslices", "slice": "1h", "slice_target": 90},
                   deployments=["a", "b"], min_events=7, description="x",
                   at_risk={"budget_remaining": 7, "time_to_exhaustion": 0}, partial_history_below=90)
    assert parse_slo(to_mapping(original), original.source) == original


@pytest.mark.parametrize(
    "changes, check",
    [
        pytest.param({"target": 99.0}, lambda s: s.target == 0.99, id="target in percent"),
        pytest.param({"threshold_ms": 230.0}, lambda s: s.sli.threshold_ms == 230.0, id="latency threshold"),
        pytest.param({"window": "calendar-month"}, lambda s: s.window.unit == "month", id="to a calendar window"),
        pytest.param({"window": "7d"}, lambda s: s.window.length == timedelta(days=7), id="to a rolling window"),
    ],
)
def test_revise_changes_fields_in_file_units(changes, check):
    base = slo(sli={"latency": {"field": "e2e_ms", "threshold_ms": 200}})
    assert check(revise(base, **changes))
    assert base.target == 0.999  # the original is unchanged


def test_revise_refuses_a_threshold_the_sli_does_not_have():
    with pytest.raises(SpecError, match="threshold_ms"):
        revise(slo(), threshold_ms=100)


def test_the_project_slos_file_parses():
    slos = load_slos(ROOT / "slos.yaml")
    assert len(slos) >= 8
    assert {s.sli.kind for s in slos} == {"availability", "latency", "goodput", "composite"}
    assert {s.composite.method for s in slos if s.composite} == {"weighted_average", "least_healthy"}
    assert {s.budgeting.method for s in slos} == {"occurrences", "timeslices", "ratio_timeslices"}


# --- OpenSLO v1 ---------------------------------------------------------------------------------


def test_openslo_good_total_ratio_maps_by_annotation_and_labels():
    (s,) = load_slos(OPENSLO / "availability-good-total.yaml")
    assert (s.name, s.sli, s.target, s.window.label) == ("chat-availability", Sli("availability"), 0.999, "28d")
    assert s.selector.deployments == ("chat-*",) and s.min_events == 50
    assert s.budgeting == Budgeting()


def test_openslo_bad_total_timeslices_on_a_calendar_month():
    (s,) = load_slos(OPENSLO / "errors-bad-total-timeslices.yaml")
    assert s.window == Window("calendar-month", unit="month", timezone="America/New_York")
    assert s.target == 0.995  # from targetPercent
    assert s.budgeting == Budgeting("timeslices", timedelta(minutes=5), 0.95)
    assert s.selector == Selector(("fraud-xgb-use",), (), ("us-east",))


def test_openslo_threshold_metric_via_indicator_ref_with_two_objectives():
    fast, ok = load_slos(OPENSLO / "ttft-threshold-ratio-timeslices.yaml")
    assert (fast.name, ok.name) == ("chat-8b-ttft/fast", "chat-8b-ttft/ok")
    assert fast.sli == Sli("latency", field="ttft_ms", threshold_ms=500.0) and fast.target == 0.99
    assert ok.sli.threshold_ms == 2000.0 and ok.target == 0.999
    assert fast.budgeting == Budgeting("ratio_timeslices", timedelta(hours=1))  # bare 60 = minutes
    assert fast.window.length == timedelta(weeks=1)


def test_openslo_goodput_on_a_calendar_week():
    (s,) = load_slos(OPENSLO / "goodput.yaml")
    assert s.sli == Sli("goodput", ttft_ms=1000.0, tpot_ms=30.0)
    assert s.window.unit == "week" and s.selector.models == ("llama-3-8b-instruct",)


def _openslo(**spec_changes):
    doc = yaml.safe_load((OPENSLO / "availability-good-total.yaml").read_text())
    for path, value in spec_changes.items():
        node = doc
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return doc


@pytest.mark.parametrize(
    "changes, field_named",
    [
        pytest.param({"metadata.annotations": {}}, "mlserving.dev/sli", id="a ratio metric needs the sli annotation"),
        pytest.param({"spec.objectives": [{"target": 0.99, "targetPercent": 99}]}, "target",
                     id="target and targetPercent together"),
        pytest.param({"spec.objectives": [{"target": 1.5}]}, "target", id="target ratio above 1"),
        pytest.param({"spec.timeWindow": [{"duration": "1Q", "calendar": {"timeZone": "UTC"}}]},
                     "timeWindow", id="calendar quarters are not supported"),
        pytest.param({"spec.timeWindow": []}, "timeWindow", id="exactly one time window"),
        pytest.param({"spec.budgetingMethod": "Weighted"}, "budgetingMethod", id="unknown budgeting method"),
        pytest.param({"spec.budgetingMethod": "Timeslices"}, "timeSliceWindow", id="timeslices need a slice window"),
        pytest.param({"spec.indicator": None}, "indicator", id="no indicator"),
        pytest.param({"spec.indicatorRef": "nope", "spec.indicator": None}, "indicatorRef", id="dangling indicatorRef"),
        pytest.param({"spec.indicator.spec": {"ratioMetric": {"good": {}}}}, "ratioMetric", id="good without total"),
        pytest.param({"apiVersion": "openslo/v2alpha"}, "apiVersion", id="other OpenSLO versions"),
    ],
)
def test_invalid_openslo_names_the_slo_and_field(changes, field_named):
    with pytest.raises(SpecError) as err:
        parse_documents([_openslo(**changes)], "o.yaml")
    assert "SLO 'chat-availability'" in str(err.value) and field_named in str(err.value)


def test_openslo_threshold_metric_with_a_greater_than_operator_is_refused():
    docs = list(yaml.safe_load_all((OPENSLO / "ttft-threshold-ratio-timeslices.yaml").read_text()))
    docs[1]["spec"]["objectives"][0]["op"] = "gte"
    with pytest.raises(SpecError, match=r"chat-8b-ttft.*objectives\[0\]\.op"):
        parse_documents(docs)
