"""Spec: a composite SLO combines SLOs of the same file, by the weighted average of their per-slot
attainment (its own target, budget, burn rates and alerts) or as its least healthy objective."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from analytics.cli.slo import to_json
from analytics.errors import SpecError
from analytics.slo.evaluation import evaluate_all, status_frame
from analytics.slo.export import exportable
from analytics.slo.files import parse_text
from tests.test_slo import T0, make_scope

AT = T0 + timedelta(hours=1)  # the 1h windows below hold the 12 slots of the scopes

# a: 10 requests a slot, 5 bad in the first (attainment 0.5 there, 1 elsewhere): 120 events, 5 bad.
# b: 20 requests a slot in the first 6 slots, none after; 10 bad in the second slot: 120 events, 10 bad.
SCOPES = {
    "a": make_scope(np.full(12, 10), np.r_[5, np.full(11, 10)]),
    "b": make_scope(np.r_[np.full(6, 20), np.zeros(6)], np.r_[20, 10, np.full(4, 20), np.zeros(6)]),
}
FILE = """
defaults: {window: 1h}
slos:
  - {name: a, sli: availability, target: 90}
  - {name: b, sli: availability, target: 95}
  - name: journey
    composite: {method: %s, objectives: [{slo: a, weight: 2}, {slo: b}]}
    labels: {team: chat}
    target: 90
"""


def _evaluated(method: str):
    body = FILE % method
    if method == "least_healthy":  # its target and window are its least healthy objective's; no weights
        body = body.replace(", weight: 2", "").replace("    target: 90\n", "")
    slos = parse_text(body, "slos.yaml")
    return {e.slo.name: e for e in evaluate_all(slos, SCOPES, AT)}


def test_a_weighted_average_composite_has_its_own_attainment_budget_and_burn_from_per_slot_weighted_attainment():
    # per slot valid = weights of the objectives with events, good = their weighted attainment:
    # slot 1: 2 x 0.5 + 1 x 1 = 2 of 3; slot 2: 2 x 1 + 1 x 0.5 = 2.5 of 3; slots 3-6: 3 of 3;
    # slots 7-12 (b idle, left out): 2 of 2. Sums: good 28.5, valid 30.
    e = _evaluated("weighted_average")["journey"]
    s = e.status
    assert (s.valid, s.good) == pytest.approx((30.0, 28.5), rel=1e-12)
    assert s.attainment == pytest.approx(0.95, rel=1e-12)
    assert s.budget == pytest.approx(3.0, rel=1e-12)  # (1 - 0.90) x 30
    assert 1 - s.remaining == pytest.approx(0.5, rel=1e-12)  # bad 1.5 of a budget of 3
    assert s.burn_rate_1h == pytest.approx(0.5, rel=1e-12)  # (1.5 / 30) / (1 - 0.90)
    assert s.budget_minutes == pytest.approx(6.0, rel=1e-12)  # (1 - 0.90) x 60 covered minutes, as for any SLO
    assert s.events == 240  # the objectives' real requests: the minimum-traffic guard and roll-ups count these
    # half the budget left, gone within the hour at burn 0.5 over a 1h period: at risk (analytics.slo.state)
    assert e.state == "at risk" and e.slo.composite.describe() == "weighted average of a (weight 2), b (weight 1)"


def test_a_least_healthy_composite_is_its_objective_with_the_most_budget_spent():
    # a: 5 bad of a 12-event budget (10% of 120): 42% spent; b: 10 bad of a 6-event budget (5% of 120): 167%
    by_name = _evaluated("least_healthy")
    e, b = by_name["journey"], by_name["b"]
    assert (e.status, e.state) == (b.status, "breached")
    assert (e.slo.name, e.slo.target, e.slo.labels) == ("journey", 0.95, (("team", "chat"),))
    assert status_frame([e])["sli"].item() == "composite of other SLOs"


@pytest.mark.parametrize("objectives, message", [
    pytest.param("[{slo: a}, {slo: nope}]", "composite.objectives[1].slo: unknown SLO 'nope'", id="unknown objective"),
    pytest.param("[{slo: a}, {slo: other}]", "'other' is a composite SLO", id="a composite of composites"),
    pytest.param("[{slo: a}, {slo: journey}]", "'journey' is a composite SLO", id="a cycle through itself"),
    pytest.param("[{slo: a, weight: 0}, {slo: b}]", "composite.objectives[0].weight: 0 must be a positive",
                 id="weight zero"),
    pytest.param("[{slo: a, weight: -1}, {slo: b}]", "composite.objectives[0].weight: -1 must be a positive",
                 id="negative weight"),
    pytest.param("[{slo: a}, {slo: a}]", "composite.objectives[1].slo: 'a' is listed twice", id="listed twice"),
    pytest.param("[{slo: a}]", "composite.objectives: expected a list of at least two", id="one objective"),
])
def test_a_composite_that_cannot_be_computed_is_one_line_naming_the_file_and_the_slo(objectives, message):
    text = f"""
defaults: {{window: 1h}}
slos:
  - {{name: a, sli: availability, target: 90}}
  - {{name: b, sli: availability, target: 95}}
  - {{name: other, composite: {{method: weighted_average, objectives: [{{slo: a}}, {{slo: b}}]}}, target: 90}}
  - {{name: journey, composite: {{method: weighted_average, objectives: {objectives}}}, target: 90}}
"""
    with pytest.raises(SpecError) as caught:
        parse_text(text, "team.yaml")
    assert str(caught.value).startswith("team.yaml: SLO 'journey': ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("extra, message", [
    pytest.param("sli: availability", "sli: a composite SLO takes its SLIs and scopes from its objectives",
                 id="an SLI of its own"),
    pytest.param("deployments: chat-*", "deployments: a composite SLO takes its SLIs", id="a scope of its own"),
])
def test_a_composite_takes_no_sli_or_scope_of_its_own(extra, message):
    text = f"""
slos:
  - {{name: a, sli: availability, target: 90, window: 1h}}
  - {{name: b, sli: availability, target: 90, window: 1h}}
  - {{name: j, composite: {{method: weighted_average, objectives: [a, b]}}, target: 90, window: 1h, {extra}}}
"""
    with pytest.raises(SpecError, match=f"slos.yaml: SLO 'j': {message}"):
        parse_text(text, "slos.yaml")


@pytest.mark.parametrize("extra, message", [
    pytest.param("target: 99", "target: a least_healthy composite has the target, window and budget of its "
                 "least healthy objective", id="a target"),
    pytest.param("objectives: [{slo: a, weight: 2}, b]", "composite.objectives[0].weight: least_healthy takes no "
                 "weights", id="weights"),
])
def test_a_least_healthy_composite_takes_no_target_or_weights(extra, message):
    objectives = "[a, b]" if not extra.startswith("objectives") else extra.split(": ", 1)[1]
    own = "" if extra.startswith("objectives") else f", {extra}"
    text = f"""
slos:
  - {{name: a, sli: availability, target: 90, window: 1h}}
  - {{name: b, sli: availability, target: 90, window: 1h}}
  - {{name: j, composite: {{method: least_healthy, objectives: {objectives}}}{own}}}
"""
    with pytest.raises(SpecError) as caught:
        parse_text(text, "slos.yaml")
    assert str(caught.value).startswith(f"slos.yaml: SLO 'j': {message}")


def test_slo_json_names_a_composites_objectives_and_the_alert_export_skips_it_with_the_reason():
    e = _evaluated("weighted_average")["journey"]
    out = to_json(e)
    assert (out["sli"], out["composite"]) == ("composite of other SLOs", "weighted average of a (weight 2), b (weight 1)")
    assert to_json(_evaluated("weighted_average")["a"])["composite"] is None
    assert "computed from its objectives' evaluations" in exportable(e.slo)
