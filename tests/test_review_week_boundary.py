"""Spec: a calendar period evaluated at its end boundary is the period that ends there, its last
slot included, in the SLO engine, `slo --at` and the weekly review alike (never the empty period
that starts at the boundary)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.cli import slo as slo_cli
from analytics.review import incidents as review_incidents
from analytics.review import pipeline as review_pipeline
from analytics.review import weekly as review_weekly
from analytics.slo import files
from analytics.slo.evaluation import evaluate
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

MONDAY = datetime(2026, 10, 5, tzinfo=UTC)  # T0 (Thursday 1 October) + 4 days
NEXT_MONDAY = MONDAY + timedelta(days=7)
SLOT = timedelta(minutes=5)


@pytest.mark.parametrize(
    "window, at, start, end",
    [
        pytest.param("calendar-week", NEXT_MONDAY, MONDAY, NEXT_MONDAY, id="a week at its end is that week"),
        pytest.param("calendar-week", NEXT_MONDAY + SLOT, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=7),
                     id="one slot later the next week has begun"),
        pytest.param("calendar-month", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC),
                     datetime(2026, 12, 1, tzinfo=UTC), id="a month at its end is that month (30 days)"),
        pytest.param("calendar-month", datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC),
                     datetime(2027, 1, 1, tzinfo=UTC), id="December at its end, across the year"),
    ],
)
def test_a_calendar_period_judged_at_its_end_boundary_is_the_period_that_ends_there(window, at, start, end):
    w = make_slo(window=window).window
    assert (w.start(at), w.end(at), w.period(at)) == (start, end, end - start)


def test_a_new_york_month_judged_at_its_local_midnight_end_is_that_month():
    w = make_slo(window="calendar-month", timezone="America/New_York").window
    at = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 1 November 00:00 EDT
    assert (w.start(at), w.end(at)) == (datetime(2026, 10, 1, 4, tzinfo=UTC), at)


def _week_of_traffic(bad_at: dict[datetime, int]) -> np.ndarray:
    """ok requests per slot from T0 for three weeks, 10 requests in every slot, with bad ones at
    the given slot starts."""
    ok = np.full(21 * PER_DAY, 10, dtype=np.int64)
    for when, bad in bad_at.items():
        ok[(when - T0) // SLOT] -= bad
    return ok


def test_a_calendar_week_evaluated_at_its_end_counts_every_slot_of_it_the_last_included():
    last_slot = NEXT_MONDAY - SLOT  # Sunday 23:55
    ok = _week_of_traffic({last_slot: 4})
    e = evaluate(make_slo(window="calendar-week", target=99), make_scope(np.full(len(ok), 10), ok), NEXT_MONDAY)
    s = e.status
    assert (s.window_start, s.valid, s.bad) == (MONDAY, 7 * PER_DAY * 10, 4)
    assert s.coverage == 1.0 and s.attainment == pytest.approx(1 - 4 / (7 * PER_DAY * 10), rel=1e-12)


def test_budget_spent_in_a_week_counts_its_own_slots_from_the_first_to_the_last():
    # bad requests in the week's first and last slots, and in the last slot of the week before
    ok = _week_of_traffic({MONDAY: 1, NEXT_MONDAY - SLOT: 2, MONDAY - SLOT: 4})
    e = evaluate(make_slo(window="calendar-week", target=99), make_scope(np.full(len(ok), 10), ok), NEXT_MONDAY)
    budget = 0.01 * 7 * PER_DAY * 10  # SRE Workbook ch. 2: (1 - SLO) x valid events of the week
    assert review_incidents.budget_spent(e, MONDAY, NEXT_MONDAY) == pytest.approx(3 / budget, rel=1e-12)
    assert review_incidents.budget_spent(e, MONDAY - timedelta(days=7), MONDAY) == pytest.approx(4 / budget, rel=1e-12)


# --- on the demo store: the weekly review and `slo --at <the week's end>` agree ---------------

WEEK = "2026-W43"  # Monday 19 to Monday 26 October, inside the demo's 35 days
LOW_TRAFFIC_SLO = "summarize-availability"  # calendar-week, a few requests an hour


def test_the_weekly_review_and_slo_at_the_weeks_end_judge_a_calendar_week_slo_alike(store, capsys):
    start, end = review_pipeline.iso_week(WEEK)
    slos = [s for s in files.load_slos(files.PROJECT_SLO_FILE) if s.name == LOW_TRAFFIC_SLO]
    assert slos and slos[0].window.label == "calendar-week"
    review = review_pipeline.weekly(store, slos, start, end)
    table = review_weekly.slo_table(review.evaluations, start, end, review.spans).row(0, named=True)

    parser = argparse.ArgumentParser()
    slo_cli.add_arguments(parser)
    assert slo_cli.run(parser.parse_args(["--json", "--at", "2026-10-26T00:00Z"]), store) == 0
    cli = next(item for item in json.loads(capsys.readouterr().out) if item["name"] == LOW_TRAFFIC_SLO)

    status = review.evaluations[0].status
    assert cli["window_start"] == start.isoformat() and status.window_start == start
    assert cli["valid"] == status.valid > 0 and cli["window_covered"] == 1.0
    assert table["state"] == cli["state"] != "no data"
    assert table["attainment"] == pytest.approx(cli["attainment"], rel=1e-12)
    assert table["budget_spent_this_week"] == pytest.approx(status.bad / status.budget, rel=1e-12)
