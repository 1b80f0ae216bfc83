"""The attention list and its all-clear mean it: a deployment no SLO covers whose errors jumped, and
a deployment at 98.9% peak GPU memory, need attention; "nothing needs attention" shows only when
every check ran, and says what was checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.review import verdicts as review_verdicts
from analytics.slo.spec import parse_slo
from analytics.traffic import summary
from analytics.traffic.pipeline import Overview
from tests.test_movers import HOUR, totals
from ui import attention

START = datetime(2026, 11, 23, tzinfo=UTC)
COMPARED = summary.comparison(START, START + timedelta(hours=1), START - timedelta(days=1), START + timedelta(hours=1))
CATALOG = pl.DataFrame({"deployment": ["chat-a", "batch-b"], "model": ["m", "m"], "region": ["r", "r"],
                        "kind": ["chat", "classic"]})
# chat-a has an SLO; batch-b none. Both go from 0.1% to 3.7% errors on 10,000 requests.
BEFORE = totals({"chat-a": (10_000, 10, {100: 9_990}), "batch-b": (10_000, 10, {100: 9_990})})
NOW = totals({"chat-a": (10_000, 370, {100: 9_630}), "batch-b": (10_000, 370, {100: 9_630})})
NO_GPUS = pl.DataFrame(schema={"deployment": pl.String, "peak_mem_fraction": pl.Float64})
CALM_GPUS = pl.DataFrame({"deployment": ["chat-a", "batch-b"], "peak_mem_fraction": [0.90, 0.91]})


def overview(now: pl.DataFrame, before: pl.DataFrame) -> Overview:
    per_deployment = summary.summarize(now, HOUR)
    return Overview({"requests": 1}, per_deployment, COMPARED, changes=summary.changes(now, before, HOUR))


def judged_slos() -> attention.Judged:
    """What the cached SLO and capacity step gives: chat-a's SLO is ok, capacity was judged."""
    slos = [parse_slo({"name": "chat-availability", "deployments": "chat-*", "sli": "availability", "target": 99,
                            "window": "28d"})]
    ok = review_verdicts.Verdict("slo", "chat-availability", "ok", "budget remaining 90%", "slo=chat-availability")
    return attention.Judged((ok,), (), frozenset(review_verdicts.covered(slos, CATALOG)),
                            ("1 SLO (budget and burn rates)", "capacity of the deployments"), ())


def test_only_deployments_an_slo_selects_are_covered():
    assert judged_slos().watched == {"chat-a"}


def test_a_deployment_no_slo_covers_needs_attention_when_its_error_rate_jumps_from_0_1_to_3_7_percent():
    judged = attention.with_deployments(judged_slos(), overview(NOW, BEFORE), CALM_GPUS)
    items = review_verdicts.attention(judged.verdicts)
    assert items.select("kind", "name", "state").rows() == [("uncovered", "batch-b", "watch")], \
        "chat-a's own SLO judges it; batch-b has nothing else watching it"
    why = items["why"][0]
    assert why.startswith("no SLO covers it; error rate 0.100% → 3.700% (+3600%, z = 18.6)"), why
    assert review_verdicts.fleet_verdict(judged.verdicts) == "watch"


def test_an_uncovered_deployment_whose_errors_did_not_move_needs_nothing():
    judged = attention.with_deployments(judged_slos(), overview(BEFORE, BEFORE), CALM_GPUS)
    assert review_verdicts.attention(judged.verdicts).is_empty()
    assert not judged.unchecked
    assert any("errors and latency of the 1 deployment(s) no SLO covers" in c for c in judged.checked)


def test_a_deployment_at_98_9_percent_peak_gpu_memory_needs_attention():
    peaks = pl.DataFrame({"deployment": ["chat-a", "batch-b"], "peak_mem_fraction": [0.989, 0.95]})
    judged = attention.with_deployments(judged_slos(), overview(BEFORE, BEFORE), peaks)
    items = review_verdicts.attention(judged.verdicts)
    assert items.select("kind", "name", "state").rows() == [("memory", "chat-a", "watch")], "95.0% is at the limit"
    assert items["why"][0] == "GPU memory peaked at 98.9% of total, over the 95% limit: under 5% headroom left"
    assert review_verdicts.MEMORY_PEAK_LIMIT == pytest.approx(0.95)


def test_without_gpu_telemetry_the_memory_check_is_named_as_not_run():
    judged = attention.with_deployments(judged_slos(), overview(BEFORE, BEFORE), NO_GPUS)
    assert judged.unchecked == ("GPU memory: no GPU telemetry in the range",)


def _attention_page(checked: bool):
    from analytics.review import verdicts as review_verdicts
    from ui import attention

    ok = review_verdicts.Verdict("slo", "chat-availability", "ok", "budget remaining 90%", "slo=chat-availability")
    unchecked = () if checked else ("GPU memory: no GPU telemetry in the range",)
    attention.show(attention.Judged((ok,), (), frozenset({"chat-a"}),
                                    ("1 SLO (budget and burn rates)", "GPU memory of 2 deployment(s), peak under 95% of total"),
                                    unchecked))


def test_the_all_clear_says_what_was_checked():
    at = AppTest.from_function(_attention_page, args=(True,), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success] == [
        "Nothing needs attention. Checked: 1 SLO (budget and burn rates); GPU memory of 2 deployment(s), "
        "peak under 95% of total."]
    assert "not every check" not in at.markdown[0].value


def test_no_all_clear_while_a_check_did_not_run():
    at = AppTest.from_function(_attention_page, args=(False,), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.success
    assert "Not checked: GPU memory: no GPU telemetry in the range." in at.info[0].value
    assert at.markdown[0].value.endswith("(not every check could run)"), at.markdown[0].value


def test_the_weekly_review_gives_the_uncovered_deployment_and_the_memory_peak_an_owner():
    from analytics.review import weekly as review_weekly
    from tests.test_movers import _no_slos

    changed = review_weekly.week_changes(NOW, BEFORE)
    movers = review_weekly.mover_table(changed)
    peaks = pl.DataFrame({"deployment": ["chat-a"], "peak_mem_fraction": [0.989]})
    watch, unchecked = review_weekly.week_watch(changed, judged_slos().watched, peaks)
    assert [(v.kind, v.name) for v in watch] == [("uncovered", "batch-b"), ("memory", "chat-a")] and not unchecked
    text = review_weekly.summary("2026-W48", _no_slos(), pl.DataFrame(), movers, {}, pl.DataFrame(), watch)
    owners = text.split("Needs an owner: ")[1]
    assert owners.startswith("batch-b (no SLO covers it; error rate 0.100% → 3.700%"), text
    assert "chat-a (GPU memory peaked at 98.9% of total, over the 95% limit: under 5% headroom left)" in owners
    assert review_weekly.week_watch(changed, None, None)[1] == [
        "Deployments no SLO covers were not checked.", "GPU memory was not checked: no GPU telemetry this week."]


def test_a_small_rise_beyond_chance_on_a_busy_uncovered_deployment_is_not_sharp():
    # 1.00% -> 1.10% of 1,000,000 requests: z = 6.9, but +10%
    before = totals({"batch-b": (1_000_000, 10_000, {100: 990_000})})
    now = totals({"batch-b": (1_000_000, 11_000, {100: 989_000})})
    judged = attention.with_deployments(judged_slos(), overview(now, before), CALM_GPUS)
    assert row_z(overview(now, before)) > summary.SIGNIFICANT_Z
    assert review_verdicts.attention(judged.verdicts).is_empty()


def row_z(seen: Overview) -> float:
    return seen.changes.filter(pl.col("metric") == "error_rate")["z"][0]


def test_the_weekly_review_finds_an_uncovered_deployment_whose_move_is_not_among_the_listed_movers():
    from analytics.review import weekly as review_weekly

    # Twelve covered deployments move far more (0.1% -> 5% errors) than the uncovered one
    # (0.1% -> 1%, z ~ 8.6): the movers table lists ten, none of them the uncovered deployment.
    busy = {f"covered-{i:02}": ((10_000, 10, {100: 9_990}), (10_000, 500, {100: 9_500})) for i in range(12)}
    before = totals({**{k: b for k, (b, _) in busy.items()}, "batch-b": (10_000, 10, {100: 9_990})})
    now = totals({**{k: n for k, (_, n) in busy.items()}, "batch-b": (10_000, 100, {100: 9_900})})
    changed = review_weekly.week_changes(now, before)
    assert "batch-b" not in review_weekly.mover_table(changed)["deployment"].to_list()
    watch, _ = review_weekly.week_watch(changed, set(busy), None)
    assert [(v.kind, v.name) for v in watch] == [("uncovered", "batch-b")]
