"""Spec for analytics.review.verdicts: one rule set gives every SLO, capacity outlook and GPU pool a
state; the fleet takes the worst; the attention list is worst first; every state has its own shape."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.capacity.plan import CapacityOutlook
from analytics.review import verdicts as review_verdicts
from analytics.slo import state as states
from analytics.slo.evaluation import evaluate
from analytics.slo.spec import Thresholds, revise
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

AT = T0 + timedelta(days=30)
N = 30 * PER_DAY


def _evaluation(requests: int = 100, bad_slots: dict | None = None, target: float = 99.9):
    """30 days of `requests` per slot; bad_slots maps slot ranges to bad requests per slot."""
    req = np.full(N, requests, dtype=np.int64)
    ok = req.copy()
    for (a, b), bad in (bad_slots or {}).items():
        ok[a:b] = requests - bad
    return evaluate(make_slo(target=target), make_scope(req, ok), AT)


CASES = {
    "no errors: ok": ({}, "ok"),
    "a heavy burn in the last hour: paging": ({(N - 12, N): 50}, "paging"),
    "a steady burn of 2x over 3 days: ticket": ({(N - 3 * PER_DAY, N): 2}, "ticket"),
    "a budget overspent weeks ago: breached": ({(5 * PER_DAY, 5 * PER_DAY + 10): 100}, "breached"),
    "19% of the budget left: at risk": ({(5 * PER_DAY, 5 * PER_DAY + 7): 100}, "at risk"),
    "a 1h burn of 10x exhausts 99% of the budget in under 3 days: at risk": ({(N - 12, N): 1}, "at risk"),
}


@pytest.mark.parametrize(("bad", "state"), CASES.values(), ids=CASES.keys())
def test_each_slo_state_follows_the_rule_set(bad, state):
    requests = 1000 if state == "ticket" else 100
    verdict = review_verdicts.slo_verdict(_evaluation(requests, bad))
    assert verdict.state == state, verdict.why
    assert verdict.kind == "slo" and verdict.query == "slo=s"
    assert verdict.state in states.SLO_STATES


def test_an_slo_without_valid_events_has_no_data():
    e = evaluate(make_slo(), make_scope(np.zeros(N, dtype=np.int64)), AT)
    assert review_verdicts.slo_verdict(e).state == "no data"


def _from(share_missing: float, bad_slots: dict | None = None):
    """30 days with no traffic in the first `share_missing` of the window, 100 requests per slot after."""
    req = np.full(N, 100, dtype=np.int64)
    req[: int(N * share_missing)] = 0
    ok = req.copy()
    for (a, b), bad in (bad_slots or {}).items():
        ok[a:b] = 100 - bad
    return evaluate(make_slo(), make_scope(req, ok), AT)


def test_a_window_mostly_uncovered_is_partial_history_unless_an_alert_fires():
    assert review_verdicts.slo_verdict(_from(0.5)).state == "partial history"
    assert "covers 50.00% of the 30d window" in review_verdicts.slo_verdict(_from(0.5)).why
    assert review_verdicts.slo_verdict(_from(0.04)).state == "ok"
    assert review_verdicts.slo_verdict(_from(0.5, {(N - 12, N): 50})).state == "paging"


def _with_file_keys(e, **keys):
    """The evaluation as if its SLO file had set these keys (parsed like the file)."""
    return dataclasses.replace(e, slo=revise(e.slo, **keys))


def test_at_risk_thresholds_come_from_the_slo_file():
    e = _evaluation(100, {(5 * PER_DAY, 5 * PER_DAY + 7): 100})  # 19% left
    assert review_verdicts.slo_verdict(e).state == "at risk"
    assert review_verdicts.slo_verdict(_with_file_keys(e, at_risk={"budget_remaining": 10})).state == "ok"
    e = _evaluation(100, {(N - 12, N): 1})  # exhausted in 2.96 days at the 1h burn
    assert review_verdicts.slo_verdict(e).state == "at risk"
    assert review_verdicts.slo_verdict(_with_file_keys(e, at_risk={"time_to_exhaustion": "2d"})).state == "ok"
    assert review_verdicts.slo_verdict(_with_file_keys(e, at_risk={"time_to_exhaustion": 0})).state == "ok"


def test_partial_history_threshold_comes_from_the_slo_file():
    assert review_verdicts.slo_verdict(_from(0.5)).state == "partial history"
    assert review_verdicts.slo_verdict(_with_file_keys(_from(0.5), partial_history_below=40)).state == "ok"


@pytest.mark.parametrize("kwargs", [{"budget_remaining": 25}, {"time_to_exhaustion": timedelta(days=-1)},
                                    {"min_covered": 1.5}],
                         ids=["budget remaining in percent", "negative time", "coverage above 1"])
def test_thresholds_refuse_values_outside_their_range(kwargs):
    with pytest.raises(ValueError):
        Thresholds(**kwargs)


def test_the_why_sentence_carries_the_numbers():
    why = review_verdicts.slo_verdict(_evaluation(100, {(5 * PER_DAY, 5 * PER_DAY + 7): 100})).why
    assert "budget remaining 19.0% < 25.0%" in why, "as the SLO table shows budget left"


START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def _outlook(per_gpu=10.0, exhausted=None, headroom=None):
    return CapacityOutlook("d", "H100-80GB", 8, per_gpu, 12.0 if per_gpu else None, exhausted, headroom,
                           None if per_gpu else "too little data")


@pytest.mark.parametrize(("outlook", "state"), [
    (_outlook(), "ok"),
    (_outlook(exhausted=START + timedelta(hours=14)), "short now"),
    (_outlook(exhausted=START + timedelta(days=5)), "short soon"),
    (_outlook(headroom=START + timedelta(days=5)), "short soon"),
    (_outlook(per_gpu=None), "no data"),
    (CapacityOutlook("d", "H100-80GB", 8, 10.0, None, None, None, None), "no data"),
], ids=["enough GPUs: ok", "demand over capacity before the next daily peak: short now",
        "demand over capacity in 5 days: short soon", "headroom gone in 5 days: short soon",
        "throughput unknown: no data", "no forecast hours: no data"])
def test_each_capacity_state_follows_the_rule_set(outlook, state):
    verdict = review_verdicts.capacity_verdict(outlook, START)
    assert verdict.state == state, verdict.why
    assert verdict.kind == "capacity" and verdict.query == "dep=d"


def test_a_regional_shortage_shows_although_the_pooled_gpu_type_has_spares():
    weeks = [START + timedelta(hours=h) for h in range(0, 14 * 24, 6)]
    plans = {"a-use": pl.DataFrame({"ts": weeks, "gpus_needed": [12.0] * len(weeks), "gpus_current": [8] * len(weeks)}),
             "a-euw": pl.DataFrame({"ts": weeks, "gpus_needed": [2.0] * len(weeks), "gpus_current": [8] * len(weeks)})}
    deployments = pl.DataFrame({"deployment": ["a-use", "a-euw"], "region": ["us-east", "eu-west"],
                                "gpu_type": ["H100-80GB"] * 2, "gpus_per_replica": [2, 2], "replicas": [4, 4]})
    states = {v.name: v.state for v in review_verdicts.pool_verdicts(plans, deployments, START)}
    assert states == {"H100-80GB, all regions": "ok", "H100-80GB in us-east": "short now",
                      "H100-80GB in eu-west": "ok"}


def test_the_fleet_takes_the_worst_state_and_the_attention_list_is_worst_first():
    verdicts = [review_verdicts.Verdict("slo", "b", "at risk", "", ""), review_verdicts.Verdict("capacity", "c", "short now", "", ""),
                review_verdicts.Verdict("slo", "a", "paging", "", ""), review_verdicts.Verdict("slo", "z", "ok", "", ""),
                review_verdicts.Verdict("slo", "y", "no data", "", "")]
    assert review_verdicts.fleet_verdict(verdicts) == "paging"
    assert review_verdicts.fleet_verdict([]) == "no data"
    listed = review_verdicts.attention(verdicts)
    assert listed["name"].to_list() == ["a", "c", "b"]  # ok and no data need no attention
    assert listed["icon"].to_list() == [states.STYLE[s].icon for s in ("paging", "short now", "at risk")]
    assert list(listed.schema) == list(review_verdicts.ATTENTION_SCHEMA)
    assert review_verdicts.attention([]).schema == review_verdicts.ATTENTION_SCHEMA


def test_every_state_has_its_own_shape_so_colour_is_never_the_only_cue():
    assert set(states.STYLE) == set(states.STATES)
    assert len({s.icon for s in states.STYLE.values()}) == len(states.STATES)
    assert len({s.label for s in states.STYLE.values()}) == len(states.STATES)
    assert states.badge("paging") == "▲ Paging"


# The colours Streamlit's markdown knows (st.markdown: ":blue[...]" and the like).
MARKDOWN_COLOURS = {"red", "orange", "yellow", "green", "blue", "violet", "gray", "grey", "rainbow", "primary"}


def test_every_state_has_a_colour_for_charts_and_one_for_page_text():
    for state in states.STATES:
        style = states.STYLE[state]
        assert style.colour.startswith("#") and len(style.colour) == 7, state
        assert style.markdown in MARKDOWN_COLOURS, state


def test_the_slo_states_keep_the_fleets_order_without_the_capacity_states():
    assert states.SLO_STATES == ("breached", "paging", "ticket", "at risk", "partial history", "no data", "ok")
    assert [states.RANK[s] for s in states.SLO_STATES] == sorted(states.RANK[s] for s in states.SLO_STATES)
    assert set(states.ATTENTION) | {"partial history", "no data", "ok"} == set(states.STATES)


def test_shortfalls_keep_only_short_verdicts_worst_first():
    verdicts = [review_verdicts.Verdict("capacity", "b", "short soon", "", ""), review_verdicts.Verdict("capacity", "z", "ok", "", ""),
                review_verdicts.Verdict("capacity", "c", "short now", "", ""), review_verdicts.Verdict("capacity", "a", "short soon", "", ""),
                review_verdicts.Verdict("capacity", "y", "no data", "", "")]
    assert [(v.name, v.state) for v in review_verdicts.shortfalls(verdicts)] == [
        ("c", "short now"), ("a", "short soon"), ("b", "short soon")]


def test_every_kind_of_verdict_links_to_a_page_that_exists():
    from ui.attention import PAGES

    root = Path(__file__).resolve().parent.parent
    assert set(PAGES) == {"slo", "capacity", "uncovered", "memory"}
    assert all((root / page).is_file() for page in PAGES.values()), PAGES


def test_each_alert_severity_is_drawn_in_the_colour_of_the_state_it_fires():
    from analytics.slo.alerts import SEVERITIES

    assert set(states.SEVERITY_STATES) == set(SEVERITIES)
    assert set(states.SEVERITY_STATES.values()) <= set(states.SLO_STATES)
    assert states.severity_colour("page") == states.STYLE["paging"].colour
