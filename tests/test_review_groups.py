"""Spec: the weekly review rolls the SLOs up by a label (the SLOs page's roll-up, over the week):
per label value the worst state, the budget spent that week weighted by the week's valid events,
how many SLOs and how many breached; the report rolls up by the first label unless told another."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.review.weekly import group_key, group_table
from analytics.slo.evaluation import evaluate
from tests.test_slo import T0, make_scope, make_slo

START, END = T0 + timedelta(hours=1), T0 + timedelta(hours=2)  # "the week": the second hour of a 2h window


def _evaluated(name: str, requests: list[int], bad: dict[int, int], team: str):
    """A 90% availability SLO over 2h (24 slots): ``requests`` per slot, ``bad`` {slot: bad requests}."""
    ok = np.array(requests, dtype=np.int64)
    for slot, n in bad.items():
        ok[slot] -= n
    slo = make_slo(name=name, target=90, window="2h", labels={"team": team})
    return evaluate(slo, make_scope(requests, ok), END)


def test_the_review_rolls_up_the_budget_spent_that_week_weighted_by_the_weeks_valid_events():
    # a: 10 a slot; budget 0.1 x 240 = 24; 2 bad before the week (not counted) and 6 in it: 6/24 = 0.25,
    #    over 120 events in the week
    # b: 30 a slot; budget 0.1 x 720 = 72; 144 bad in the week (24 in each of 6 slots): 2.0 (breached),
    #    over 360 events in the week
    # c: nothing bad
    a = _evaluated("a", [10] * 24, {0: 2, 12: 6}, "chat")
    b = _evaluated("b", [30] * 24, dict.fromkeys(range(13, 19), 24), "chat")
    c = _evaluated("c", [10] * 24, {}, "search")
    groups = group_table([c, a, b], START, END, "team")
    assert groups["group"].to_list() == ["chat", "search"]  # the worst state first
    chat, search = groups.iter_rows(named=True)
    # (0.25 x 120 + 2.0 x 360) / (120 + 360) = 750 / 480
    assert chat["budget_spent_this_week"] == pytest.approx(1.5625, rel=1e-12)
    assert (chat["state"], chat["slo_count"], chat["slos_breached"], chat["valid_events_this_week"]) == (
        "breached", 2, 1, 480)
    assert (search["state"], search["budget_spent_this_week"], search["slos_breached"]) == ("ok", 0.0, 0)


def test_the_review_rolls_up_by_the_first_label_unless_told_another_and_refuses_one_no_slo_has():
    assert group_key(["service", "team"], None) == "service"
    assert group_key(["service", "team"], "team") == "team"
    assert group_key([], None) is None  # no labels: no roll-up
    with pytest.raises(InputError, match=r"^--group-by owner: no SLO has that label \(labels: service, team\)$"):
        group_key(["service", "team"], "owner")
