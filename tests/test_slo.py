"""Spec for the SLO engine (analytics.slo.sli, burn, alerts, slo, whatif) on hand-built data.

Reference numbers: Google SRE Workbook ch. 5 "Alerting on SLOs" (tiers and burn rates) and
ch. 2 "Implementing SLOs" (error budget); OpenSLO README and examples/budgeting-method.
Tests against the demo store are in tests/test_slo_store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import histogram
from analytics.cli.slo import to_json
from analytics.slo import alerts as slo_alerts
from analytics.slo import budget as slo_budget
from analytics.slo.evaluation import evaluate, status_frame
from analytics.slo.sli import Grid, ScopeData, sli_counts
from analytics.slo.spec import parse_slo, revise
from analytics.slo.whatif import compare, comparison_frame, error_bound_note, suggest_target
from analytics.store.conventions import EDGES_MS, N_BUCKETS

T0 = datetime(2026, 10, 1, tzinfo=UTC)
PER_DAY = 288  # 5-minute slots


def make_scope(requests, ok=None, hists: dict | None = None) -> ScopeData:
    requests = np.asarray(requests, dtype=np.int64)
    ok = requests.copy() if ok is None else np.asarray(ok, dtype=np.int64)
    cum = {f: histogram.cumulative(np.asarray(h)) for f, h in (hists or {}).items()}
    return ScopeData(grid=Grid(T0, len(requests)), deployments=("d",), regions=(), requests=requests, ok=ok,
                     cum=cum)


def make_slo(**fields):
    base = {"name": "s", "sli": "availability", "target": 99.9, "window": "30d"}
    return parse_slo(base | fields)


# --- the SRE Workbook numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "period, expected",
    [
        pytest.param(timedelta(days=30), [14.4, 6.0, 3.0, 1.0], id="30-day SLO: 14.4, 6, 3, 1"),
        pytest.param(timedelta(days=28), [13.44, 5.6, 2.8, 0.9333], id="28-day SLO: 13.44, 5.6, 2.8, 0.933"),
    ],
)
def test_tier_thresholds_scale_with_the_slo_period(period, expected):
    assert [t.threshold(period) for t in slo_alerts.TIERS] == pytest.approx(expected, abs=5e-5)


def test_the_tier_table_is_the_workbooks():
    rows = [(t.severity, t.budget_fraction, t.long_window, t.short_window) for t in slo_alerts.TIERS]
    assert rows == [
        ("page", 0.02, timedelta(hours=1), timedelta(minutes=5)),
        ("page", 0.05, timedelta(hours=6), timedelta(minutes=30)),
        ("ticket", 0.10, timedelta(hours=24), timedelta(hours=2)),
        ("ticket", 0.10, timedelta(days=3), timedelta(hours=6)),
    ]


@pytest.mark.parametrize(
    "burn, expected",
    [
        pytest.param(1, timedelta(days=30), id="burn 1 spends a 30-day budget in 30 days"),
        pytest.param(2, timedelta(days=15), id="burn 2 in 15 days"),
        pytest.param(10, timedelta(days=3), id="burn 10 in 3 days"),
        pytest.param(1000, timedelta(minutes=43.2), id="burn 1000 in 43.2 minutes"),
    ],
)
def test_time_to_exhaustion_of_a_full_budget(burn, expected):
    assert slo_budget.time_to_exhaustion(1.0, burn, timedelta(days=30)) == expected


@pytest.mark.parametrize(
    "remaining, burn, expected",
    [
        pytest.param(0.5, 2, timedelta(days=7.5), id="half the budget left at burn 2"),
        pytest.param(-0.2, 5, timedelta(0), id="an overspent budget is already exhausted"),
        pytest.param(0.5, 0, None, id="no burn never exhausts"),
    ],
)
def test_time_to_exhaustion_of_what_is_left(remaining, burn, expected):
    assert slo_budget.time_to_exhaustion(remaining, burn, timedelta(days=30)) == expected


def test_a_999_slo_over_three_million_requests_has_a_budget_of_3000_errors():
    requests = np.zeros(30 * PER_DAY, dtype=np.int64)
    requests[-1] = 3_000_000
    data = make_scope(requests)
    e = evaluate(make_slo(), data, T0 + timedelta(days=30))
    assert e.status.valid == 3_000_000 and e.status.budget == pytest.approx(3000)


# --- budgeting methods (OpenSLO) -------------------------------------------------------------


def four_hours() -> ScopeData:
    """Hour A: 100/100 good; B: 90/100; C: 5/10; D: no traffic (12 slots each)."""
    valid = np.zeros(48, dtype=np.int64)
    good = np.zeros(48, dtype=np.int64)
    valid[0], good[0] = 100, 100
    valid[12], good[12] = 100, 90
    valid[24], good[24] = 10, 5
    return make_scope(valid, good)


@pytest.mark.parametrize(
    "budgeting, attainment, valid_units",
    [
        pytest.param("occurrences", 195 / 210, 210, id="occurrences: good events over all events"),
        pytest.param({"method": "timeslices", "slice": "1h", "slice_target": 95}, 1 / 3, 3,
                     id="timeslices: good hours over hours with traffic"),
        pytest.param({"method": "timeslices", "slice": "1h", "slice_target": 50}, 3 / 3, 3,
                     id="timeslices: a slice exactly at its target is good"),
        pytest.param({"method": "ratio_timeslices", "slice": "1h"}, (1 + 0.9 + 0.5) / 3, 3,
                     id="ratio timeslices: the mean of the hourly ratios"),
    ],
)
def test_budgeting_methods_on_hand_built_hours(budgeting, attainment, valid_units):
    slo = make_slo(budgeting=budgeting, window="7d", target=90)
    e = evaluate(slo, four_hours(), T0 + timedelta(hours=4))
    assert e.status.attainment == pytest.approx(attainment)
    assert e.status.valid == valid_units
    assert e.status.budget == pytest.approx(0.1 * valid_units)


def test_an_open_slice_does_not_count_until_it_ends():
    slo = make_slo(budgeting={"method": "timeslices", "slice": "1h", "slice_target": 95}, window="7d", target=90)
    e = evaluate(slo, four_hours(), T0 + timedelta(hours=1, minutes=30))  # hour B is half done
    assert e.status.valid == 1


# --- budget, burn and alerts -------------------------------------------------------------------


def steady(days: int = 30, per_slot: int = 1000, bad: dict | None = None) -> ScopeData:
    """Steady traffic with `bad[slot] = errors` in some slots."""
    requests = np.full(days * PER_DAY, per_slot, dtype=np.int64)
    ok = requests.copy()
    for i, errors in (bad or {}).items():
        ok[i] -= errors
    return make_scope(requests, ok)


def test_a_constant_error_rate_burns_at_error_rate_over_allowed_rate():
    data = steady(bad={i: 2 for i in range(30 * PER_DAY)})  # 0.2% errors against a 0.1% allowance
    e = evaluate(make_slo(), data, T0 + timedelta(days=30))
    assert e.status.burn_rate_1h == pytest.approx(2.0)
    assert e.status.remaining == pytest.approx(-1.0)  # spent twice over, not clamped
    assert e.state == "breached"


def _at(slot: int) -> datetime:
    return T0 + timedelta(minutes=5 * slot)


END = 30 * PER_DAY


@pytest.mark.parametrize(
    "bad, at_slot, min_events, firing",
    [
        pytest.param({END - 1: 20}, END, 0, set(), id="one bad slot: 5m burns hot, the 1h window does not"),
        pytest.param({i: 20 for i in range(END - 12, END)}, END, 0, {"1h/5m"},
                     id="2% errors for an hour pages on the 1h/5m tier"),
        pytest.param({i: 20 for i in range(END - 14, END - 2)}, END, 0, set(),
                     id="the page stops once the 5m window is clean again"),
        pytest.param({i: 8 for i in range(END - 72, END)}, END, 0, {"6h/30m"},
                     id="0.8% errors for six hours pages on 6h/30m (burn 8 > 6; the 1d burn is only 2)"),
        pytest.param({i: 4 for i in range(END - 288, END)}, END, 0, {"1d/2h", "3d/6h"},
                     id="0.4% errors for a day opens both tickets (burn 4 > 3; 3d burn 1.33 > 1)"),
        pytest.param({i: 20 for i in range(END - 12, END)}, END, 20_000, set(),
                     id="the minimum-traffic guard silences a quiet hour"),
    ],
)
def test_tiers_fire_when_both_windows_exceed(bad, at_slot, min_events, firing):
    e = evaluate(make_slo(min_events=min_events), steady(bad=bad), _at(at_slot))
    assert {a.tier.label for a in e.firing} == firing


def test_replay_finds_an_episode_with_its_start_end_peak_and_cost():
    burst = range(20 * PER_DAY, 20 * PER_DAY + 24)  # two hours of 100% errors
    data = steady(bad={i: 1000 for i in burst})
    e = evaluate(make_slo(), data, T0 + timedelta(days=30))
    pages = e.episodes.filter(e.episodes["severity"] == "page")
    assert pages.height == 1
    page = pages.row(0, named=True)
    assert page["start"] == _at(burst.start + 1)  # the first evaluation that sees a bad slot
    # the page ends when no page tier fires: the 6h tier's 30m short window is clean 6 slots later
    assert page["end"] == _at(burst.stop + 6)
    assert page["peak_burn"] == pytest.approx(1000)  # a full hour of errors against 0.1%
    assert page["budget_consumed"] == pytest.approx(24_000 / e.status.budget)
    assert not page["ongoing"]
    assert (e.episodes["severity"] == "ticket").sum() == 1


def test_an_episode_still_firing_at_the_end_is_ongoing():
    data = steady(bad={i: 1000 for i in range(END - 24, END)})
    e = evaluate(make_slo(), data, T0 + timedelta(days=30))
    last = e.episodes.filter(e.episodes["severity"] == "page").row(-1, named=True)
    assert last["ongoing"] and last["end"] is None
    assert e.state == "breached" or e.state == "paging"


def test_tiers_at_a_time_report_json_durations():
    e = evaluate(make_slo(), steady(bad={i: 20 for i in range(END - 12, END)}), _at(END))
    (page,) = [a.as_dict() for a in e.firing]
    assert page["severity"] == "page" and page["burn_threshold"] == pytest.approx(14.4)
    assert (page["long_window"], page["short_window"]) == ("1h", "5m")
    out = to_json(e)
    assert {"name", "target", "window", "attainment", "good", "valid", "budget_remaining",
            "burn_rate_1h", "alerts"} <= set(out)


def test_status_table_lists_the_worst_first():
    at = T0 + timedelta(days=30)
    evaluations = [
        evaluate(make_slo(name="healthy"), steady(), at),
        evaluate(make_slo(name="quiet"), make_scope(np.zeros(30 * PER_DAY, dtype=np.int64)), at),
        evaluate(make_slo(name="paging"), steady(bad={i: 20 for i in range(END - 12, END)}), at),
        evaluate(make_slo(name="overspent"), steady(bad={i: 2 for i in range(END)}), at),
    ]
    frame = status_frame(evaluations)
    assert frame["slo"].to_list() == ["overspent", "paging", "quiet", "healthy"]
    assert frame["state"].to_list() == ["breached", "paging", "no data", "ok"]


# --- latency and goodput SLIs from histograms --------------------------------------------------

hist_rows = st.integers(0, 2**32 - 1).map(
    lambda seed: np.random.default_rng(seed).integers(0, 30, size=(PER_DAY, N_BUCKETS)))
thresholds = st.floats(min_value=0.5, max_value=1e6)


@settings(max_examples=40, deadline=None)
@given(hist=hist_rows, a=thresholds, b=thresholds)
def test_attainment_never_decreases_as_the_threshold_rises(hist, a, b):
    low, high = sorted((a, b))
    data = make_scope(np.full(PER_DAY, 10**6), hists={"e2e_ms": hist})
    at = T0 + timedelta(days=1)

    def att(t):
        s = evaluate(make_slo(sli={"latency": {"field": "e2e_ms", "threshold_ms": t}}, window="1d"), data, at).status
        return s.attainment_lower, s.attainment, s.attainment_upper

    for x, y in zip(att(low), att(high), strict=True):
        assert x <= y + 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), target=st.floats(90.0, 99.99))
def test_budget_remaining_is_one_minus_error_rate_over_allowance(seed, target):
    rng = np.random.default_rng(seed)
    requests = rng.integers(0, 500, size=PER_DAY)
    ok = requests - rng.binomial(requests, rng.uniform(0, 0.05))
    s = evaluate(make_slo(target=target, window="1d"), make_scope(requests, ok), T0 + timedelta(days=1)).status
    assert s.remaining == pytest.approx(1 - (1 - s.attainment) / (1 - s.target), abs=1e-9)


def test_latency_counts_only_ok_requests_with_the_field():
    hist = np.zeros((PER_DAY, N_BUCKETS), dtype=np.int64)
    hist[:, 23] = 9  # (150, 200] ms
    hist[:, 30] = 1  # (800, 1000] ms
    data = make_scope(np.full(PER_DAY, 50), hists={"ttft_ms": hist})  # 50 requests, 10 with a ttft
    c = sli_counts(data, make_slo(sli={"latency": {"field": "ttft_ms", "threshold_ms": 200}}).sli)
    assert c.valid[0] == 10 and c.good[0] == 9 and c.exact


def test_goodput_from_a_joint_histogram_counts_per_request():
    from analytics.slo.sli import Joint

    # Slot 0: 6 requests fast on both, 2 slow ttft only, 2 slow tpot only: goodput 6 of 10,
    # although each field alone is good for 8 of 10.
    joint = Joint(np.array([0, 0, 0]), np.array([20, 30, 20]), np.array([10, 10, 15]), np.array([6.0, 2.0, 2.0]))
    data = ScopeData(grid=Grid(T0, 1), deployments=("d",), regions=(), requests=np.array([10]), ok=np.array([10]),
                     joint=joint)
    c = sli_counts(data, make_slo(sli={"goodput": {"ttft_ms": float(EDGES_MS[20]), "tpot_ms": float(EDGES_MS[10])}}).sli)
    assert (c.good[0], c.valid[0], c.exact) == (6, 10, True)


def test_goodput_bounds_from_the_rollup_contain_the_truth():
    ttft = np.zeros((1, N_BUCKETS), dtype=np.int64)
    tpot = np.zeros((1, N_BUCKETS), dtype=np.int64)
    ttft[0, 20], ttft[0, 30] = 8, 2
    tpot[0, 10], tpot[0, 15] = 8, 2
    data = make_scope(np.array([10]), hists={"ttft_ms": ttft, "tpot_ms": tpot})
    c = sli_counts(data, make_slo(sli={"goodput": {"ttft_ms": float(EDGES_MS[20]), "tpot_ms": float(EDGES_MS[10])}}).sli)
    # Frechet: max(0, 8 + 8 - 10) = 6 <= good <= min(8, 8) = 8; the truth above was 6.
    assert (c.good_lower[0], c.good_upper[0], c.exact) == (6, 8, False)
    assert 6 <= c.good[0] <= 8


# --- what-if ------------------------------------------------------------------------------------


def test_what_if_a_stricter_target_pages_more_and_leaves_less_budget():
    data = steady(bad={i: 3 for i in range(20 * PER_DAY, 20 * PER_DAY + 36)})  # 3h of 0.3% errors
    current = make_slo()
    cur, new = compare(current, revise(current, target=99.99), data, T0 + timedelta(days=30))
    assert (cur.pages, new.pages) == (0, 1)
    assert new.evaluation.status.remaining < cur.evaluation.status.remaining
    table = comparison_frame(cur, new)
    assert table.filter(table["measure"] == "pages").row(0)[1:] == (0.0, 1.0)


def test_what_if_notes_error_bounds_only_between_edges():
    base = make_slo(sli={"latency": {"field": "ttft_ms", "threshold_ms": 200}})
    assert error_bound_note(base) is None
    note = error_bound_note(revise(base, threshold_ms=230))
    assert "between edges 200 and 250 ms" in note


@pytest.mark.parametrize(
    "share, expected",
    [
        pytest.param(1.0, 0.99, id="met in every window: the worst window's attainment"),
        pytest.param(0.5, 0.999, id="met in half the windows"),
    ],
)
def test_suggest_target_is_the_strictest_met_in_a_share_of_windows(share, expected):
    # Ten daily windows: days 0-4 have 1% errors, days 5-9 0.1% errors.
    bad = {i: (10 if i < 5 * PER_DAY else 1) for i in range(10 * PER_DAY)}
    data = steady(days=10, bad=bad)
    s = suggest_target(make_slo(window="1d"), data, T0 + timedelta(days=10), share, step=timedelta(days=1))
    assert len(s.windows) == 10
    assert s.target == pytest.approx(expected)


# --- what the numbers cover, and budgets in time ------------------------------------------


def test_an_hour_of_traffic_reports_its_share_of_a_28_day_window_not_a_complete_history():
    requests = np.zeros(28 * PER_DAY, dtype=np.int64)
    requests[-12:] = 10  # the last hour only
    e = evaluate(make_slo(window="28d"), make_scope(requests), T0 + timedelta(days=28))
    assert e.status.coverage == pytest.approx(1 / (28 * 24))
    assert e.status.data_start == T0 + timedelta(days=28, hours=-1)
    assert not e.status.complete_history
    out = to_json(e)
    assert out["window_covered"] == pytest.approx(1 / 672) and out["complete_history"] is False
    assert status_frame([e])["window_covered"][0] == pytest.approx(1 / 672)


def test_traffic_before_the_window_start_covers_the_whole_window():
    e = evaluate(make_slo(window="7d"), steady(days=10), T0 + timedelta(days=10))
    assert (e.status.coverage, e.status.complete_history, e.status.data_start) == (1.0, True, None)


def test_unknown_outcomes_are_neither_good_nor_bad_for_availability():
    data = ScopeData(grid=Grid(T0, 2), deployments=("d",), regions=(), requests=np.array([100, 50]),
                     ok=np.array([90, 0]), unknown=np.array([0, 50]))
    c = sli_counts(data, make_slo().sli)
    assert (c.good.tolist(), c.valid.tolist()) == ([90, 0], [100, 0])


def test_an_slo_over_arrival_only_traffic_reports_no_data_not_an_attainment():
    requests = np.full(PER_DAY, 100, dtype=np.int64)
    data = ScopeData(grid=Grid(T0, PER_DAY), deployments=("d",), regions=(), requests=requests,
                     ok=np.zeros(PER_DAY, dtype=np.int64), unknown=requests)
    e = evaluate(make_slo(window="1d"), data, T0 + timedelta(days=1))
    assert e.state == "no data" and e.firing == ()
    out = to_json(e)
    assert out["attainment"] is None and out["budget_remaining"] is None and out["state"] == "no data"
    assert status_frame([e])["attainment"][0] is None


def test_a_tier_whose_windows_exceed_the_slo_window_is_not_evaluated():
    e = evaluate(make_slo(window="1h"), steady(days=4, bad={i: 500 for i in range(4 * PER_DAY)}),
                 T0 + timedelta(days=4))
    assert [a.tier.label for a in e.alerts] == ["1h/5m"]
    assert set(e.episodes["tiers"].to_list()) <= {"1h/5m"}
    e6h = evaluate(make_slo(window="6h"), steady(days=1), T0 + timedelta(days=1))
    assert [a.tier.label for a in e6h.alerts] == ["1h/5m", "6h/30m"]


def test_the_minimum_traffic_guard_says_which_tier_it_holds_back_and_with_how_many_events():
    data = steady(per_slot=1, bad={i: 1 for i in range(END - 12, END)})  # 12 events in the last hour, all bad
    e = evaluate(make_slo(min_events=10_000), data, _at(END))
    held = [a.as_dict() for a in e.held_back]
    assert [h["long_window"] for h in held] == ["1h", "6h", "1d", "3d"] and not e.firing
    assert held[0]["events_long"] == 12 and held[0]["held_back"]
    out = to_json(e)
    assert out["held_back"][0]["events_long"] == 12 and out["held_back"][0]["min_events"] == 10_000
    assert status_frame([e])["held_back"][0].startswith("page 1h/5m (12 of 10000 events)")


@pytest.mark.parametrize("budgeting", [{"method": "timeslices", "slice": "5m", "slice_target": 95}, "occurrences"],
                         ids=["timeslices: the bad-slice allowance", "occurrences: at the window's mean rate"])
def test_a_999_budget_over_30_days_is_43_2_minutes(budgeting):
    # SRE Workbook ch. 2: a 99.9% SLO over 30 days allows 43.2 minutes of downtime.
    e = evaluate(make_slo(budgeting=budgeting), steady(days=31, bad={30 * PER_DAY: 1000}), T0 + timedelta(days=31))
    assert e.status.budget_minutes == pytest.approx(43.2)
    assert e.status.remaining_minutes == pytest.approx(43.2 - 5.0)  # one whole bad 5-minute slot
    out = to_json(e)
    assert out["budget_minutes"] == pytest.approx(43.2) and out["budget_time_basis"]
    assert ("mean rate" in out["budget_time_basis"]) == (budgeting == "occurrences")
