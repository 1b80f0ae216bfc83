"""Spec: an SLO file's error budget policy (what happens when the budget is exhausted) is parsed
and checked like every other field, and the weekly review shows it beside each SLO whose budget
is exhausted, in its SLO table and in its paragraph's "Needs an owner"."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from analytics.errors import SpecError
from analytics.review import weekly as review_weekly
from analytics.slo.evaluation import evaluate
from analytics.slo.files import parse_text
from analytics.slo.spec import revise
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

FREEZE = "Freeze non-critical changes; reliability work first."


def test_a_policy_under_defaults_applies_to_every_slo_and_an_slos_own_policy_wins():
    text = f"""
defaults: {{window: 28d, policy: "{FREEZE}"}}
slos:
  - {{name: a, sli: availability, target: 99.5}}
  - {{name: b, sli: availability, target: 99.5, policy: "Page the owning team's lead."}}
"""
    a, b = parse_text(text, "slos.yaml")
    assert a.policy == FREEZE and b.policy == "Page the owning team's lead."


def test_an_slo_without_a_policy_has_none_and_a_what_if_copy_keeps_its_policy():
    assert make_slo().policy == ""
    assert revise(make_slo(policy=FREEZE), target=99).policy == FREEZE


def test_a_policy_written_over_several_lines_reads_as_one_line():
    assert make_slo(policy="Freeze changes.\n  Reliability work first.\n").policy == "Freeze changes. Reliability work first."


@pytest.mark.parametrize(
    "policy, message",
    [
        pytest.param(["freeze"], "policy: ['freeze'] must be a non-empty text", id="a list"),
        pytest.param("  ", "policy: '  ' must be a non-empty text", id="blank"),
        pytest.param(3, "policy: 3 must be a non-empty text", id="a number"),
        pytest.param("x" * 1001, "policy: 1001 characters is over the 1000-character limit", id="too long"),
    ],
)
def test_a_bad_policy_is_one_line_naming_the_file_and_the_slo(policy, message):
    with pytest.raises(SpecError) as raised:
        parse_text(f"slos:\n  - {{name: chat, sli: availability, target: 99.5, window: 28d, policy: {policy!r}}}\n",
                   "slos.yaml")
    assert str(raised.value) == f"slos.yaml: SLO 'chat': {message}"
    assert "\n" not in str(raised.value)


def test_an_openslo_slo_takes_its_policy_from_our_annotation():
    text = f"""
apiVersion: openslo/v1
kind: SLO
metadata:
  name: chat-availability
  annotations: {{mlserving.dev/sli: availability, mlserving.dev/policy: "{FREEZE}"}}
spec:
  service: chat
  indicator: {{metadata: {{name: ok}}, spec: {{ratioMetric: {{counter: true, good: {{metricSource: {{type: x}}}},
               total: {{metricSource: {{type: x}}}}}}}}}}
  timeWindow: [{{duration: 28d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives: [{{target: 0.995}}]
"""
    slo, = parse_text(text, "openslo.yaml")
    assert slo.policy == FREEZE


def _evaluated(bad_per_slot: int, policy: str | None):
    """An availability SLO at 99% over 7 days, 10 requests per 5-minute slot, evaluated after 7 days."""
    ok = np.full(7 * PER_DAY, 10 - bad_per_slot, dtype=np.int64)
    slo = make_slo(name=f"bad-{bad_per_slot}", target=99, window="7d", **({"policy": policy} if policy else {}))
    return evaluate(slo, make_scope(np.full(len(ok), 10), ok), T0 + timedelta(days=7))


def _empty_spans() -> pl.DataFrame:
    return pl.DataFrame(schema={"slo": pl.String})


def test_the_weekly_review_shows_the_policy_of_a_breached_slo_and_not_of_a_healthy_one():
    # 2 bad of 10 per slot is 20% bad against a 1% budget: exhausted 20 times over; 0 bad is healthy
    breached, healthy = _evaluated(2, FREEZE), _evaluated(0, "Never shown while the budget lasts.")
    start, end = T0, T0 + timedelta(days=7)
    table = review_weekly.slo_table([breached, healthy], start, end, _empty_spans())
    rows = {r["slo"]: r for r in table.iter_rows(named=True)}
    assert rows["bad-2"]["state"] == "breached" and rows["bad-2"]["policy"] == FREEZE
    assert rows["bad-0"]["state"] == "ok" and rows["bad-0"]["policy"] is None

    text = review_weekly.summary("2026-W40", table, pl.DataFrame(), pl.DataFrame(), {}, pl.DataFrame())
    assert f"Needs an owner: SLO bad-2 (breached; policy: {FREEZE})." in text
    assert "Never shown" not in text


def test_a_breached_slo_without_a_policy_is_listed_as_before():
    breached = _evaluated(2, None)
    table = review_weekly.slo_table([breached], T0, T0 + timedelta(days=7), _empty_spans())
    text = review_weekly.summary("2026-W40", table, pl.DataFrame(), pl.DataFrame(), {}, pl.DataFrame())
    assert table["policy"].to_list() == [None] and "Needs an owner: SLO bad-2 (breached)." in text


def test_the_weekly_report_of_the_demo_names_the_policy_of_its_breached_slo(store, tmp_path):
    from analytics.review import pipeline as review_pipeline

    # 99.999% availability over 28 days: the demo fleet's errors spend that budget many times over
    strict, lenient = (make_slo(name="strict", target=99.999, window="28d", policy=FREEZE),
                       make_slo(name="lenient", target=90, window="28d", policy="Never shown while the budget lasts."))
    report = review_pipeline.report(store, [strict, lenient], "2026-W43", cache_dir=tmp_path)
    rows = {r["slo"]: r for r in report.tables["slos"].iter_rows(named=True)}
    assert (rows["strict"]["state"], rows["strict"]["policy"]) == ("breached", FREEZE)
    assert rows["lenient"]["policy"] is None
    assert f"SLO strict (breached; policy: {FREEZE})" in report.summary and "Never shown" not in report.summary
