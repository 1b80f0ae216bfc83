"""Spec for analytics.review.incidents: flapping alerts of one SLO are one span; spans of several
SLOs that overlap and share a deployment are one incident."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from analytics.review import incidents as review_incidents
from analytics.slo.alerts import EPISODE_SCHEMA
from analytics.slo.evaluation import evaluate
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

AT = T0 + timedelta(days=30)
N = 30 * PER_DAY


def _evaluation(bad_slots=None, name="s"):
    req = np.full(N, 100, dtype=np.int64)
    ok = req.copy()
    for (a, b), bad in (bad_slots or {}).items():
        ok[a:b] = 100 - bad
    return evaluate(make_slo(name=name), make_scope(req, ok), AT, replay_from=T0 + timedelta(days=20))


def _with_episodes(e, rows):
    """The evaluation with hand-made episodes (severity, start offset from AT - 1 day, length or None)."""
    base = AT - timedelta(days=2)
    frame = pl.DataFrame([{
        "severity": sev, "start": base + start, "end": None if length is None else base + start + length,
        "ongoing": length is None, "duration_min": 0.0, "peak_burn": burn, "budget_consumed": 0.0, "tiers": "",
    } for sev, start, length, burn in rows], schema=EPISODE_SCHEMA)
    return dataclasses.replace(e, episodes=frame)


H = timedelta(hours=1)
FLAPS = {
    "page flaps 45 min apart: one span": ([("page", 0 * H, H, 20.0), ("page", 1.75 * H, H, 30.0)], [2]),
    "pages 2 h apart: two spans": ([("page", 0 * H, H, 20.0), ("page", 3 * H, H, 30.0)], [1, 1]),
    "a ticket re-firing 20 h after a page: one span": ([("page", 0 * H, H, 20.0), ("ticket", 21 * H, H, 2.0)], [2]),
    "a ticket 4 days after a page: two spans": ([("page", -3 * 24 * H, H, 20.0), ("ticket", 26 * H, H, 2.0)], [1, 1]),
}


@pytest.mark.parametrize(("rows", "episodes"), FLAPS.values(), ids=FLAPS.keys())
def test_episodes_of_one_slo_closer_than_the_gap_are_one_span(rows, episodes):
    spans = review_incidents.slo_spans([_with_episodes(_evaluation(), rows)])
    assert spans["episodes"].to_list() == episodes
    assert spans.schema == pl.Schema(review_incidents.SPAN_SCHEMA)


def test_a_span_takes_the_worst_severity_the_peak_burn_and_stays_open_while_ongoing():
    rows = [("ticket", 0 * H, 2 * H, 2.0), ("page", H, None, 30.0)]
    span = review_incidents.slo_spans([_with_episodes(_evaluation(), rows)]).row(0, named=True)
    assert (span["severity"], span["peak_burn"], span["ongoing"], span["end"]) == ("page", 30.0, True, None)


def test_budget_consumed_counts_the_bad_events_inside_the_span_against_the_window_budget():
    burst = N - 2 * PER_DAY
    e = _evaluation({(burst, burst + 6): 50})  # 300 bad; budget 0.1% of 864,000 valid = 864
    spans = review_incidents.slo_spans([e])
    assert spans.height == 1
    assert spans["budget_consumed"][0] == pytest.approx(300 / 864, rel=1e-9)
    assert spans["start"][0] <= T0 + burst * timedelta(minutes=5) + timedelta(minutes=5)


def _spans(rows):
    return pl.DataFrame([{
        "slo": slo, "severity": "page", "start": AT + start, "end": None if length is None else AT + start + length,
        "ongoing": length is None, "episodes": 1, "peak_burn": 10.0, "budget_consumed": consumed,
        "deployments": deps, "scope_size": size,
    } for slo, start, length, deps, size, consumed in rows],
        schema=review_incidents.SPAN_SCHEMA | {"deployments": pl.List(pl.String), "scope_size": pl.Int64})


GROUPS = {
    "overlapping spans sharing a deployment: one incident":
        ([("region", 0 * H, H, ["a", "b"], 2, 0.5), ("fleet", 0.5 * H, H, ["a"], 9, 0.1)], [1, 1]),
    "overlapping spans on different deployments: two incidents":
        ([("x", 0 * H, H, ["a"], 1, 0.5), ("y", 0.5 * H, H, ["b"], 1, 0.1)], [1, 2]),
    "same deployment 3 h apart: two incidents":
        ([("x", 0 * H, H, ["a"], 1, 0.5), ("y", 4 * H, H, ["a"], 1, 0.1)], [1, 2]),
    "linked through a third span: one incident":
        ([("x", 0 * H, H, ["a"], 1, 0.5), ("y", 0.5 * H, H, ["a", "b"], 2, 0.1), ("z", H, H, ["b"], 1, 0.2)],
         [1, 1, 1]),
}


@pytest.mark.parametrize(("rows", "ids"), GROUPS.values(), ids=GROUPS.keys())
def test_spans_of_several_slos_group_when_they_overlap_and_share_a_deployment(rows, ids):
    incidents, spans = review_incidents.group(_spans(rows), AT + 10 * H)
    assert spans.sort("start")["incident"].to_list() == ids
    assert incidents["incident"].to_list() == sorted(set(ids))


def test_an_incident_names_its_slos_by_budget_and_leads_with_the_widest_scope():
    incidents, _ = review_incidents.group(_spans([("region", 0 * H, H, ["a", "b"], 2, 0.5), ("fleet", 0.5 * H, H, ["a"], 9, 0.1)]),
                           AT + 10 * H)
    row = incidents.row(0, named=True)
    assert row["slos"] == "region, fleet" and row["lead_slo"] == "fleet"
    assert row["budget_consumed"] == 0.5 and row["budget_by_slo"] == "region 50%, fleet 10%"
    assert (row["duration_min"], row["deployments"]) == (90.0, "a, b")
    assert incidents.schema == pl.Schema(review_incidents.INCIDENT_SCHEMA)


def test_an_ongoing_incident_has_no_end_and_lasts_until_the_evaluation_time():
    incidents, _ = review_incidents.group(_spans([("x", 0 * H, None, ["a"], 1, 0.5)]), AT + 3 * H)
    row = incidents.row(0, named=True)
    assert row["ongoing"] and row["end"] is None and row["duration_min"] == 180.0


def test_no_spans_no_incidents():
    incidents, spans = review_incidents.group(_spans([]), AT)
    assert incidents.is_empty() and incidents.schema == pl.Schema(review_incidents.INCIDENT_SCHEMA)
    assert "incident" in spans.columns
