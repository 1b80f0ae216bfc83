"""Spec for budget corrections (analytics.slo.corrections): maintenance windows and known
exclusions, from the SLO file and the SLOs page, removed from budgets, burn rates and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml

from analytics.errors import InputError, SpecError
from analytics.slo import corrections as slo_corrections
from analytics.slo.corrections import Correction, excluded_slots
from analytics.slo.evaluation import evaluate
from analytics.slo.files import parse_documents
from analytics.slo.pipeline import add_correction, corrected, load_data, stored_corrections, withdraw_correction
from analytics.slo.spec import parse_slo
from analytics.store import conventions
from analytics.store import corrections as store_corrections
from tests.test_slo import END, PER_DAY, T0, _at, make_slo, steady
from tests.test_slo_spec import OPENSLO

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday; the week to 2026-11-09 has no DST change in UTC
SLOS = [{"name": "chat-ttft", "sli": "availability", "target": 99.9, "window": "28d"},
        {"name": "code-availability", "sli": "availability", "target": 99.5, "window": "28d"}]


def file_with(*corrections) -> list:
    return parse_documents([{"slos": SLOS, "corrections": list(corrections)}], "slos.yaml")


def weekly(**fields) -> Correction:
    return file_with({"slos": "all", "reason": "maintenance", "duration": "2h", "at": "02:00"} | fields)[0].corrections[0]


# --- the SLO file ---


def test_a_top_level_correction_attaches_to_the_slos_it_names_only():
    slos = file_with({"slos": ["chat-ttft"], "reason": "load test", "start": "2026-11-02T14:00:00Z", "duration": "90m"})
    by_name = {s.name: s for s in slos}
    assert by_name["code-availability"].corrections == ()
    (c,) = by_name["chat-ttft"].corrections
    assert (c.start, c.duration, c.reason, c.recurring) == (datetime(2026, 11, 2, 14, tzinfo=UTC),
                                                           timedelta(minutes=90), "load test", False)


def test_all_applies_a_correction_to_every_slo_and_yaml_timestamps_work():
    text = """
slos:
  - {name: a, sli: availability, target: 99.9, window: 28d}
  - {name: b, sli: availability, target: 99.9, window: 28d}
corrections:
  - {slos: all, reason: db upgrade, start: 2026-11-03 10:00:00, duration: 1h}
"""
    slos = parse_documents(list(yaml.safe_load_all(text)), "f.yaml")
    assert [len(s.corrections) for s in slos] == [1, 1]
    assert slos[0].corrections[0].start == datetime(2026, 11, 3, 10, tzinfo=UTC)  # naive: the default zone, UTC


def test_a_document_of_corrections_alone_applies_to_openslo_slos_of_the_same_file():
    openslo = yaml.safe_load((OPENSLO / "availability-good-total.yaml").read_text())
    (slo,) = parse_documents([openslo, {"corrections": [{"slos": ["chat-availability"], "reason": "r",
                                                          "every": "day", "at": "03:00", "duration": "15m"}]}], "o.yaml")
    assert slo.corrections[0].every == tuple(range(7))


@pytest.mark.parametrize(
    "fields, message",
    [
        pytest.param({"duration": "2 hours"}, "slos.yaml: correction 1 ('maintenance'): duration: '2 hours' is not a duration",
                     id="a bad duration"),
        pytest.param({"every": ["sun", "funday"]}, "slos.yaml: correction 1 ('maintenance'): every: 'funday' is not a weekday",
                     id="an unknown weekday"),
        pytest.param({"slos": ["chat-ttft", "chat-tpot"]}, "slos.yaml: correction 1 ('maintenance'): slos: no SLO named "
                     "'chat-tpot' in this file", id="an unknown SLO name"),
        pytest.param({"at": 120}, 'at: quote the time ("02:00")', id="an unquoted 02:00 (YAML reads 120)"),
        pytest.param({"at": "25:00"}, "at: expected a wall-clock time HH:MM", id="an impossible time"),
        pytest.param({"reason": " "}, "slos.yaml: correction 1: reason: required", id="no reason"),
        pytest.param({"start": "2026-11-02T14:00:00Z"}, "start/every: give a start (one-off) or every and at",
                     id="both a start and every"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone",
                     id="an unknown time zone"),
        pytest.param({"duration": "8d"}, "duration: '8d' is longer than the 7d limit", id="a recurring window over a week"),
        pytest.param({"until": "2027"}, "until: unknown field", id="an unknown field"),
    ],
)
def test_a_broken_correction_is_one_line_naming_file_entry_and_field(fields, message):
    raw = {"slos": "all", "reason": "maintenance", "every": ["sun"], "at": "02:00", "duration": "2h"} | fields
    with pytest.raises(SpecError) as err:
        file_with(raw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


# --- recurrence ---


def test_a_weekly_window_expands_to_its_days_over_a_utc_week():
    c = weekly(every=["wed", "sun"])
    assert c.windows(MONDAY, MONDAY + timedelta(days=7)) == [
        (datetime(2026, 11, 4, 2, tzinfo=UTC), datetime(2026, 11, 4, 4, tzinfo=UTC)),
        (datetime(2026, 11, 8, 2, tzinfo=UTC), datetime(2026, 11, 8, 4, tzinfo=UTC)),
    ]


def test_windows_crossing_the_range_edges_are_included_whole():
    c = weekly(every=["sun"], at="23:00", duration="3h")  # Sunday 23:00 to Monday 02:00
    assert c.windows(MONDAY, MONDAY + timedelta(days=7)) == [
        (datetime(2026, 11, 1, 23, tzinfo=UTC), datetime(2026, 11, 2, 2, tzinfo=UTC)),
        (datetime(2026, 11, 8, 23, tzinfo=UTC), datetime(2026, 11, 9, 2, tzinfo=UTC)),
    ]


def test_a_daily_window_happens_once_a_day():
    c = weekly(every="day", at="12:00", duration="30m")
    windows = c.windows(MONDAY, MONDAY + timedelta(days=7))
    assert [w[0] for w in windows] == [MONDAY + timedelta(days=d, hours=12) for d in range(7)]


def test_a_local_time_keeps_its_wall_clock_across_a_dst_change():
    c = weekly(every=["sun"], at="03:00", timezone="Europe/Berlin", duration="1h")  # CEST ends 2026-10-25
    starts = [w[0] for w in c.windows(datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))]
    assert starts == [datetime(2026, 10, 18, 1, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC),
                      datetime(2026, 11, 1, 2, tzinfo=UTC)]


@pytest.mark.parametrize(
    "begin, minutes, excluded",
    [
        pytest.param(timedelta(minutes=10), 10, [2, 3], id="a window on slot edges excludes exactly its slots"),
        pytest.param(timedelta(minutes=13), 4, [2, 3], id="a window inside two slots excludes both (any overlap)"),
        pytest.param(timedelta(minutes=-10), 12, [0], id="a window before the grid excludes what it overlaps"),
    ],
)
def test_a_slot_is_excluded_when_it_overlaps_a_window_at_all(begin, minutes, excluded):
    c = Correction((), timedelta(minutes=minutes), "r", start=T0 + begin)
    assert np.flatnonzero(excluded_slots([c], T0, 6)).tolist() == excluded


# --- budgets, burn rates and alerts ---

OUTAGE = range(END - 24, END)  # the last two hours of a 30-day window: 100% errors


def outage_slo(**correction):
    """make_slo()'s SLO (99.9% availability over 30 days) with one correction from the file."""
    raw = {"slos": ["s"], "reason": "planned failover test", "duration": "2h"} | correction
    return parse_documents([{"slos": [{"name": "s", "sli": "availability", "target": 99.9, "window": "30d"}],
                             "corrections": [raw]}], "slos.yaml")[0]


def test_an_outage_inside_a_correction_spends_no_budget_and_pages_nobody():
    slo = outage_slo(start=_at(OUTAGE.start).isoformat())
    data = corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], ())
    e = evaluate(slo, data["s"], _at(END))
    # 30 days x 288 slots x 1000 requests, less the 24 excluded slots' 24,000 (all of them bad)
    assert e.status.valid == 30 * PER_DAY * 1000 - 24_000
    assert e.status.good == e.status.valid
    assert e.status.remaining == pytest.approx(1.0)
    assert not e.firing and e.episodes.is_empty()
    assert e.counts.excluded_valid.sum() == 24_000


def test_a_correction_covering_part_of_a_burn_window_leaves_the_rest_counted():
    # the outage's first hour is excluded, its second counted: the 1h burn is 1000x, the 6h burn
    # 12,000 bad / (72 - 12) x 1000 valid = 0.2 error rate / 0.001 allowance = 200
    slo = outage_slo(start=_at(OUTAGE.start).isoformat(), duration="1h")
    data = corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], ())
    e = evaluate(slo, data["s"], _at(END))
    assert e.status.burn_rate_1h == pytest.approx(1000)
    six_hours = next(a for a in e.alerts if a.tier.label == "6h/30m")
    assert six_hours.burn_long == pytest.approx(200)
    assert e.status.valid - e.status.good == 12_000


def test_the_same_outage_outside_the_correction_pages():
    slo = outage_slo(start=_at(OUTAGE.start - PER_DAY).isoformat())  # the day before
    data = corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], ())
    e = evaluate(slo, data["s"], _at(END))
    assert e.status.valid - e.status.good == 24_000
    assert "1h/5m" in {a.tier.label for a in e.firing}


def test_a_page_correction_for_all_slos_reaches_every_slo_the_file_did_not_correct():
    slo = make_slo()
    page = (Correction((), timedelta(hours=2), "incident already paid for", start=_at(OUTAGE.start), source="page"),)
    e = evaluate(slo, corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], page)["s"], _at(END))
    assert e.status.remaining == pytest.approx(1.0) and not e.firing


# --- the page's corrections in the store ---


def test_a_page_correction_is_stored_with_bound_parameters_and_read_back(store):
    reason = "x'); DROP TABLE budget_corrections; --"  # stored as text, never run
    start = datetime(2019, 3, 4, 5, tzinfo=UTC)
    add_correction(store, ["corr-probe"], start, "45m", reason, "ana", ["corr-probe"],
                        datetime(2026, 1, 1, tzinfo=UTC))
    (c,) = stored_corrections(store, start, start + timedelta(minutes=1))
    assert (c.slos, c.start, c.duration, c.reason, c.added_by) == (("corr-probe",), start, timedelta(minutes=45),
                                                                    reason, "ana")


@pytest.mark.parametrize(
    "slos, duration, reason, who, message",
    [
        pytest.param(["nope"], "1h", "r", "ana", "slos: no SLO named 'nope'", id="an unknown SLO"),
        pytest.param([], "1 hour", "r", "ana", "duration: '1 hour' is not a duration", id="a bad duration"),
        pytest.param([], "1h", "  ", "ana", "reason: required", id="no reason"),
        pytest.param([], "1h", "r", "", "who: required", id="nobody"),
    ],
)
def test_a_rejected_page_correction_writes_nothing(store, slos, duration, reason, who, message):
    start = datetime(2019, 6, 1, tzinfo=UTC)
    with pytest.raises(InputError, match=message):
        add_correction(store, slos, start, duration, reason, who, ["corr-probe"], datetime(2026, 1, 1, tzinfo=UTC))
    assert store_corrections.read(store, start, start + timedelta(days=1)).is_empty()


def test_a_withdrawn_page_correction_counts_again_and_stays_on_record(store):
    start = datetime(2018, 5, 6, 7, tzinfo=UTC)
    added = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    add_correction(store, ["corr-probe"], start, "1h", "mistaken window", "ana", ["corr-probe"], added)
    add_correction(store, ["corr-probe"], start, "30m", "real maintenance", "ana", ["corr-probe"],
                   added + timedelta(seconds=1))
    mistaken = next(c for c in stored_corrections(store, start, start + timedelta(hours=1)) if c.reason == "mistaken window")
    assert mistaken.added_at == added, "named by the time it was added, to the millisecond"
    withdraw_correction(store, mistaken, "wrong day", "bo", datetime(2026, 1, 2, tzinfo=UTC))
    (left,) = stored_corrections(store, start, start + timedelta(hours=1))
    assert left.reason == "real maintenance"
    on_record = store.query(f"SELECT reason, withdrawn_by FROM {conventions.CORRECTION_WITHDRAWALS} "
                            "WHERE start = {start:DateTime64(3, 'UTC')}", {"start": start})
    assert on_record.rows() == [("wrong day", "bo")]
    assert store_corrections.read(store, start, start + timedelta(hours=1))["reason"].to_list() == ["real maintenance"]


@pytest.mark.parametrize(
    "from_file, reason, who, message",
    [
        pytest.param(True, "r", "bo", "is in slos.yaml: remove it there", id="a correction of the SLO file"),
        pytest.param(False, " ", "bo", r"reason: required \(why these events count again\)", id="no reason"),
        pytest.param(False, "r", "", r"who: required \(who is withdrawing it\)", id="nobody"),
    ],
)
def test_a_rejected_withdrawal_writes_nothing(store, from_file, reason, who, message):
    start = datetime(2018, 8, 9, tzinfo=UTC)
    page = Correction(("corr-probe",), timedelta(hours=1), "x", start=start, source="page", added_by="ana",
                      added_at=datetime(2026, 1, 1, tzinfo=UTC))
    file = Correction(("corr-probe",), timedelta(hours=1), "x", start=start, source="slos.yaml")
    with pytest.raises(InputError, match=message):
        withdraw_correction(store, file if from_file else page, reason, who, datetime(2026, 1, 2, tzinfo=UTC))
    assert store.scalar(f"SELECT count() FROM {conventions.CORRECTION_WITHDRAWALS} "
                        "WHERE start = {start:DateTime64(3, 'UTC')}", {"start": start}) == 0


def test_load_data_applies_the_stored_corrections_of_the_slo(store):
    start = datetime(2019, 9, 2, tzinfo=UTC)
    slo = parse_slo({"name": "corr-load-probe", "sli": "availability", "target": 99, "window": "1d"})
    add_correction(store, [slo.name], start + timedelta(hours=3), "1h", "probe", "ana", [slo.name],
                        datetime(2026, 1, 1, tzinfo=UTC))
    data = load_data(store, [slo], start + timedelta(days=1), start=start)[slo.name]
    excluded = np.flatnonzero(data.excluded)
    assert data.grid.start == start
    assert excluded.tolist() == list(range(36, 48))  # 03:00 to 04:00: slots 36..47


# --- the Grafana export computes what the app does ---


def test_exported_rules_exclude_the_file_and_page_corrections_as_the_app_does(store):
    from analytics.cli import alerts as alerts_cli
    from analytics.slo.evaluation import evaluate_all
    from analytics.slo.files import load_slos
    from analytics.slo.spec import to_mapping
    from tests.conftest import DEMO_END, ROOT
    from tests.test_alert_export import OUTAGE, _zero_nan, at_instant, rules_by_tier, threshold_of

    began = DEMO_END - OUTAGE.starts_before_end  # Monday 2026-10-19 03:00 UTC, 40 minutes of errors
    base = next(s for s in load_slos(ROOT / "slos.yaml") if s.name == "eu-west-availability")
    raw = to_mapping(base) | {"name": "eu-west-corrected"}
    corrections = [
        {"slos": ["eu-west-corrected"], "reason": "one-off, off the slot grid",
         "start": (began + timedelta(minutes=10)).isoformat(), "duration": "13m"},  # slots 03:10, 03:15, 03:20
        {"slos": "all", "reason": "weekly, local time", "every": ["mon"], "at": "05:27",
         "timezone": "Europe/Berlin", "duration": "20m"},  # 03:27 to 03:47 UTC (CEST): slots 03:25 to 03:45
        {"slos": "all", "reason": "daily across midnight", "every": "day", "at": "23:58", "duration": "7m"},
    ]
    (slo,) = parse_documents([{"slos": [raw], "corrections": corrections}], "corrected.yaml")
    add_correction(store, [slo.name], began, "5m", "from the page", "ana", [slo.name],
                        datetime(2026, 1, 1, tzinfo=UTC))  # the slot 03:00
    add_correction(store, [slo.name], began + timedelta(minutes=5), "5m", "a mistake, withdrawn", "ana", [slo.name],
                   datetime(2026, 1, 1, 0, 1, tzinfo=UTC))  # the slot 03:05, withdrawn: it counts again
    (mistake,) = [c for c in stored_corrections(store, began, DEMO_END) if c.reason == "a mistake, withdrawn"]
    withdraw_correction(store, mistake, "not maintenance after all", "bo", datetime(2026, 1, 2, tzinfo=UTC))
    documents, _ = alerts_cli.grafana_documents(store, [slo], "clickhouse", "SLOs", "http://localhost:8501")
    rules = rules_by_tier(documents[slo.name])
    instants = (began + timedelta(minutes=30), began + timedelta(minutes=45), began + timedelta(hours=5, minutes=2),
                began + timedelta(hours=21, minutes=5), DEMO_END)
    compared = 0
    for at in instants:
        (evaluation,) = evaluate_all([slo], load_data(store, [slo], at), at)
        for state in evaluation.alerts:
            value = store.query(at_instant(rules[f"{state.tier.severity} {state.tier.label}"]["data"][0]["model"]["rawSql"],
                                           at))["burn"][0]
            enough = state.events_long >= max(slo.min_events, 1)
            expected = min(_zero_nan(state.burn_long), _zero_nan(state.burn_short)) if enough else 0.0
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), f"{state.tier.label} at {at}"
            assert (value > threshold_of(rules[f"{state.tier.severity} {state.tier.label}"])) == state.firing
            compared += 1
    # at 03:45 the 1h window's outage slots 03:00 to 03:40 are all corrected but 03:05: it burns less
    # than without corrections, and the exclusions are what the app counted
    (plain,) = evaluate_all([base], load_data(store, [base], instants[1]), instants[1])
    (fixed,) = evaluate_all([slo], load_data(store, [slo], instants[1]), instants[1])
    assert 0 < fixed.alerts[0].burn_long < plain.alerts[0].burn_long
    slots = {fixed.grid.time(int(i)).strftime("%m-%d %H:%M") for i in np.flatnonzero(fixed.counts.excluded_valid)}
    assert {"10-19 03:00", "10-19 03:10", "10-19 03:15", "10-19 03:20", "10-19 03:25", "10-19 03:40",
            "10-18 23:55", "10-19 00:00"} <= slots
    assert "10-19 03:05" not in slots and compared >= 20


# --- the SLOs page ---


def _page_table(at, title: str):
    labels = [b.label for b in at.get("download_button")]
    return at.dataframe[labels.index(f"Download {title} (CSV)")].value


def _fill(at, slo: str, start: datetime, duration: str, reason: str, who: str):
    at.selectbox(key="correction_slo").set_value(slo)
    at.date_input(key="correction_day").set_value(start.date())
    at.time_input(key="correction_time").set_value(start.time())
    at.text_input(key="correction_duration").input(duration)
    at.text_input(key="correction_reason").input(reason)
    at.text_input(key="correction_who").input(who)
    next(b for b in at.button if b.label == "Add correction").click().run()
    assert not at.exception, [e.message for e in at.exception]


def test_a_correction_added_on_the_slos_page_is_stored_and_listed_with_who_and_why(store):
    from tests.conftest import DEMO_END, run_page

    at = run_page("pages/1_SLOs.py", range="28d")
    listed = _page_table(at, "budget corrections")
    file_row = listed[listed["added_by"] == "slos.yaml"].iloc[0]  # the project file's weekly window
    assert (file_row["slos"], file_row["when"]) == ("code-ttft", "every sun 02:00 UTC for 2h")
    start = DEMO_END + timedelta(days=100, hours=7)  # after the data: it changes no other test's numbers
    reason = "DB failover drill'); DROP TABLE budget_corrections; --"
    _fill(at, "code-ttft", start, "90m", reason, "ana")
    (c,) = stored_corrections(store, start, start + timedelta(minutes=1))
    assert (c.slos, c.start, c.duration, c.reason, c.added_by) == (("code-ttft",), start, timedelta(minutes=90),
                                                                    reason, "ana")
    listed = _page_table(at, "budget corrections")
    row = listed[listed["correction_reason"] == reason].iloc[0]
    assert (row["slos"], row["added_by"]) == ("code-ttft", "ana")


def test_a_correction_added_on_the_slos_page_can_be_withdrawn_there_with_who_and_why(store):
    from tests.conftest import DEMO_END, run_page

    at = run_page("pages/1_SLOs.py", range="28d")
    start = DEMO_END + timedelta(days=300, hours=2)  # after the data: it changes no other test's numbers
    _fill(at, "code-ttft", start, "1h", "typo: meant next week", "ana")
    (added,) = stored_corrections(store, start, start + timedelta(minutes=1))
    at.selectbox(key="withdraw_pick").set_value(added)
    at.text_input(key="withdraw_reason").input("entered on the wrong week")
    at.text_input(key="withdraw_who").input("bo")
    next(b for b in at.button if b.label == "Withdraw correction").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error
    assert stored_corrections(store, start, start + timedelta(minutes=1)) == ()
    listed = _page_table(at, "budget corrections")
    assert "typo: meant next week" not in set(listed["correction_reason"])


def test_a_bad_correction_on_the_slos_page_shows_the_error_and_writes_nothing(store):
    from tests.conftest import DEMO_END, run_page

    at = run_page("pages/1_SLOs.py", range="28d")
    start = DEMO_END + timedelta(days=200)
    _fill(at, "all SLOs", start, "2 hours", "maintenance", "ana")
    assert any("duration: '2 hours' is not a duration" in e.value for e in at.error)
    assert store_corrections.read(store, start, start + timedelta(days=1)).is_empty()


# --- charts ---


def test_every_slo_chart_shades_a_correction_with_its_escaped_reason():
    from analytics.charts import slo as charts_slo
    from analytics.charts.base import figure

    fig = figure([], {})
    bands = [(datetime(2026, 10, 4, 2, tzinfo=UTC), datetime(2026, 10, 4, 4, tzinfo=UTC), "<b>cache</b> rebuild")]
    shaded = charts_slo.add_corrections(fig, bands, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))
    (rect,) = shaded.layout.shapes
    assert (rect.x0, rect.x1, rect.yref, rect.fillcolor) == ("2026-10-04 02:00:00", "2026-10-04 04:00:00", "paper",
                                                              charts_slo.CORRECTION_FILL)
    assert shaded.layout.annotations[0].text == "&lt;b&gt;cache&lt;/b&gt; rebuild"
    assert shaded.layout.xaxis.range == ("2026-10-01 00:00:00", "2026-10-08 00:00:00")  # not widened for the label
    assert not fig.layout.shapes  # the input figure is left as it was


def test_bands_are_the_windows_inside_the_charted_range_clipped_to_it():
    c = weekly(every=["sun"], at="23:00", duration="3h")
    assert slo_corrections.bands([c], MONDAY, MONDAY + timedelta(days=7)) == [
        (MONDAY, datetime(2026, 11, 2, 2, tzinfo=UTC), "maintenance"),
        (datetime(2026, 11, 8, 23, tzinfo=UTC), MONDAY + timedelta(days=7), "maintenance"),
    ]


# --- the weekly review ---


def test_the_review_lists_each_correction_window_of_the_week_with_the_events_it_excluded():
    from analytics.review import weekly as review_weekly

    slo = outage_slo(every="day", at="22:00")  # 2 hours every day; the outage is the last day's
    e = evaluate(slo, corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], ())["s"], _at(END))
    week_start = _at(END) - timedelta(days=7)
    table = review_weekly.corrections_table([e], (), week_start, _at(END))
    assert table.height == 7  # one window a day
    last = table.row(-1, named=True)
    assert (last["start"], last["end"], last["slos"], last["correction_reason"]) == (
        _at(OUTAGE.start), _at(END), "s", "planned failover test")
    assert last["excluded_events"] == 24_000  # 24 slots of 1000 requests
    assert table["excluded_events"].sum() == 7 * 24_000


def test_a_repeated_window_is_labelled_once_and_another_reason_one_line_lower():
    from analytics.charts import slo as charts_slo

    day = datetime(2026, 10, 4, tzinfo=UTC)
    bands = [(day, day + timedelta(hours=2), "weekly"), (day + timedelta(days=2), day + timedelta(days=2, hours=3), "load test"),
             (day + timedelta(days=7), day + timedelta(days=7, hours=2), "weekly")]
    spec = charts_slo.correction_layout(bands)
    assert len(spec["shapes"]) == 3
    assert [(a["text"], a["y"]) for a in spec["annotations"]] == [("weekly", 1), ("load test", 1 - charts_slo.CORRECTION_LABEL_STEP)]


def test_what_if_scenarios_and_past_windows_count_without_the_corrected_outage():
    from analytics.slo.spec import revise
    from analytics.slo.whatif import compare, window_attainments

    slo = outage_slo(start=_at(OUTAGE.start).isoformat())
    data = corrected({"s": steady(bad={i: 1000 for i in OUTAGE})}, [slo], ())["s"]
    current, stricter = compare(slo, revise(slo, target=99.99), data, _at(END))  # a what-if SLO keeps the exclusion
    assert (current.pages, stricter.pages) == (0, 0)
    assert stricter.evaluation.status.remaining == pytest.approx(1.0)
    windows = window_attainments(slo, data, _at(END), step=timedelta(days=1))
    assert windows["attainment"].to_list() == [1.0]  # the one full 30-day window, its outage excluded


def test_a_latency_slo_excludes_its_corrected_slots_from_the_histogram_counts():
    from analytics.slo.sli import sli_counts
    from analytics.store.conventions import EDGES_MS, N_BUCKETS
    from tests.test_slo import make_scope

    fast, slow = np.zeros(N_BUCKETS), np.zeros(N_BUCKETS)
    fast[int(np.searchsorted(EDGES_MS, 100))], slow[N_BUCKETS - 1] = 10, 10  # 10 requests a slot, fast or slow
    hist = np.array([slow if i < 2 else fast for i in range(6)])  # the first two slots are slow
    slo = parse_documents([{"slos": [{"name": "lat", "sli": {"latency": {"field": "ttft_ms", "threshold_ms": 500}},
                                      "target": 99, "window": "1d"}],
                            "corrections": [{"slos": "all", "reason": "r", "start": T0.isoformat(), "duration": "10m"}]}],
                          "f.yaml")[0]
    data = corrected({"lat": make_scope([10] * 6, hists={"ttft_ms": hist})}, [slo], ())["lat"]
    counts = sli_counts(data, slo.sli)
    assert counts.valid.tolist() == [0, 0, 10, 10, 10, 10] and counts.good.tolist() == [0, 0, 10, 10, 10, 10]
    assert counts.excluded_valid.tolist() == [10, 10, 0, 0, 0, 0]


def test_a_correction_naming_a_composite_slo_says_to_correct_its_objectives():
    composite = {"name": "journey", "composite": {"method": "least_healthy",
                                                  "objectives": ["chat-ttft", "code-availability"]}}
    with pytest.raises(SpecError, match="slos: 'journey' is a composite SLO: correct its objectives"):
        parse_documents([{"slos": [*SLOS, composite], "corrections": [
            {"slos": ["journey"], "reason": "r", "start": "2026-11-02T00:00:00Z", "duration": "1h"}]}], "f.yaml")


def test_a_composite_reads_its_objectives_corrected_counts():
    from analytics.slo.evaluation import evaluate_all

    objective = {"name": "s", "sli": "availability", "target": 99.9, "window": "30d"}
    twin = objective | {"name": "t"}
    composite = {"name": "c", "target": 99.9, "window": "30d",
                 "composite": {"method": "weighted_average", "objectives": [{"slo": "s"}, {"slo": "t"}]}}
    slos = parse_documents([{"slos": [objective, twin, composite], "corrections": [
        {"slos": "all", "reason": "failover test", "start": _at(OUTAGE.start).isoformat(), "duration": "2h"}]}], "f.yaml")
    outage = steady(bad={i: 1000 for i in OUTAGE})
    data = corrected({"s": outage, "t": outage}, slos, ())
    by_name = {e.slo.name: e for e in evaluate_all(slos, data, _at(END))}
    assert by_name["c"].status.remaining == pytest.approx(1.0) and not by_name["c"].firing
