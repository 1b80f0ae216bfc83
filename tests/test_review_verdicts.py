"""Spec for analytics.review.verdicts: one rule set gives every SLO, capacity outlook and GPU pool a
state; the fleet takes the worst; the attention list is worst first; every state has its own shape."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.capacity.plan import CapacityOutlook
from analytics.review import verdicts as V
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
    verdict = V.slo_verdict(_evaluation(requests, bad))
    assert verdict.state == state, verdict.why
    assert verdict.page == "pages/1_SLOs.py" and verdict.query == "slo=s"


def test_an_slo_without_valid_events_has_no_data():
    e = evaluate(make_slo(), make_scope(np.zeros(N, dtype=np.int64)), AT)
    assert V.slo_verdict(e).state == "no data"


def _from(share_missing: float, bad_slots: dict | None = None):
    """30 days with no traffic in the first `share_missing` of the window, 100 requests per slot after."""
    req = np.full(N, 100, dtype=np.int64)
    req[: int(N * share_missing)] = 0
    ok = req.copy()
    for (a, b), bad in (bad_slots or {}).items():
        ok[a:b] = 100 - bad
    return evaluate(make_slo(), make_scope(req, ok), AT)


def test_a_window_mostly_uncovered_is_partial_history_unless_an_alert_fires():
    assert V.slo_verdict(_from(0.5)).state == "partial history"
    assert "covers 50% of the 30d window" in V.slo_verdict(_from(0.5)).why
    assert V.slo_verdict(_from(0.04)).state == "ok"
    assert V.slo_verdict(_from(0.5, {(N - 12, N): 50})).state == "paging"


def _with_file_keys(e, **keys):
    """The evaluation as if its SLO file had set these keys (parsed like the file)."""
    return dataclasses.replace(e, slo=revise(e.slo, **keys))


def test_at_risk_thresholds_come_from_the_slo_file():
    e = _evaluation(100, {(5 * PER_DAY, 5 * PER_DAY + 7): 100})  # 19% left
    assert V.slo_verdict(e).state == "at risk"
    assert V.slo_verdict(_with_file_keys(e, at_risk={"budget_remaining": 10})).state == "ok"
    e = _evaluation(100, {(N - 12, N): 1})  # exhausted in 2.96 days at the 1h burn
    assert V.slo_verdict(e).state == "at risk"
    assert V.slo_verdict(_with_file_keys(e, at_risk={"time_to_exhaustion": "2d"})).state == "ok"
    assert V.slo_verdict(_with_file_keys(e, at_risk={"time_to_exhaustion": 0})).state == "ok"


def test_partial_history_threshold_comes_from_the_slo_file():
    assert V.slo_verdict(_from(0.5)).state == "partial history"
    assert V.slo_verdict(_with_file_keys(_from(0.5), partial_history_below=40)).state == "ok"


@pytest.mark.parametrize("kwargs", [{"budget_remaining": 25}, {"time_to_exhaustion": timedelta(days=-1)},
                                    {"min_covered": 1.5}],
                         ids=["budget remaining in percent", "negative time", "coverage above 1"])
def test_thresholds_refuse_values_outside_their_range(kwargs):
    with pytest.raises(ValueError):
        Thresholds(**kwargs)


def test_the_why_sentence_carries_the_numbers():
    why = V.slo_verdict(_evaluation(100, {(5 * PER_DAY, 5 * PER_DAY + 7): 100})).why
    assert "19%" in why and "25%" in why


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
    verdict = V.capacity_verdict(outlook, START)
    assert verdict.state == state, verdict.why
    assert verdict.page == "pages/4_Capacity.py" and verdict.query == "dep=d"


def test_a_regional_shortage_shows_although_the_pooled_gpu_type_has_spares():
    weeks = [START + timedelta(hours=h) for h in range(0, 14 * 24, 6)]
    plans = {"a-use": pl.DataFrame({"ts": weeks, "gpus_needed": [12.0] * len(weeks)}),
             "a-euw": pl.DataFrame({"ts": weeks, "gpus_needed": [2.0] * len(weeks)})}
    deployments = pl.DataFrame({"deployment": ["a-use", "a-euw"], "region": ["us-east", "eu-west"],
                                "gpu_type": ["H100-80GB"] * 2, "gpus_per_replica": [2, 2], "replicas": [4, 4]})
    states = {v.name: v.state for v in V.pool_verdicts(plans, deployments, START)}
    assert states == {"H100-80GB, all regions": "ok", "H100-80GB in us-east": "short now",
                      "H100-80GB in eu-west": "ok"}


def test_the_fleet_takes_the_worst_state_and_the_attention_list_is_worst_first():
    verdicts = [V.Verdict("slo", "b", "at risk", "", "p", ""), V.Verdict("capacity", "c", "short now", "", "p", ""),
                V.Verdict("slo", "a", "paging", "", "p", ""), V.Verdict("slo", "z", "ok", "", "p", ""),
                V.Verdict("slo", "y", "no data", "", "p", "")]
    assert V.fleet_verdict(verdicts) == "paging"
    assert V.fleet_verdict([]) == "no data"
    listed = V.attention(verdicts)
    assert listed["name"].to_list() == ["a", "c", "b"]  # ok and no data need no attention
    assert listed["icon"].to_list() == [V.STYLE[s].icon for s in ("paging", "short now", "at risk")]
    assert list(listed.schema) == list(V.ATTENTION_SCHEMA)
    assert V.attention([]).schema == V.ATTENTION_SCHEMA


def test_every_state_has_its_own_shape_so_colour_is_never_the_only_cue():
    assert set(V.STYLE) == set(V.STATES)
    assert len({s.icon for s in V.STYLE.values()}) == len(V.STATES)
    assert len({s.label for s in V.STYLE.values()}) == len(V.STATES)
    assert V.badge("paging") == "▲ Paging"
