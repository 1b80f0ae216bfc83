"""Movers rank changes by the evidence in the counts, not by their ratio: a first error on a few
hundred requests is 'new', not +249,066,002%; five errors going away is not 'Better'; a p99 of
twenty requests is not compared. One rule for the Overview (analytics.traffic.summary) and the
weekly review (analytics.review.weekly)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analytics.review import weekly as review_weekly
from analytics.store import conventions
from analytics.traffic import summary

HOUR = 3600.0


def totals(rows: dict[str, tuple[int, int, dict[float, int]]]) -> pl.DataFrame:
    """Request totals as queries.request_totals gives them: deployment -> (requests, errors,
    {latency ms: ok requests}); TTFT and E2E share the histogram."""
    out = []
    for name, (requests, errors, latencies) in rows.items():
        hist = [0] * conventions.N_BUCKETS
        for ms, count in latencies.items():
            hist[int(np.searchsorted(conventions.EDGES_MS, ms, side="left"))] += count
        out.append({"deployment": name, "region": "r", "requests": requests, "ok": requests - errors, "error": errors,
                    "timeout": 0, "rejected": 0, "unknown": 0, "input_tokens": 0, "output_tokens": 0,
                    "ttft_hist": hist, "e2e_hist": hist})
    return pl.DataFrame(out).with_columns(pl.col("ttft_hist", "e2e_hist").cast(pl.List(pl.UInt64)))


def row(frame: pl.DataFrame, deployment: str, metric: str) -> dict:
    rows = frame.filter((pl.col("deployment") == deployment) & (pl.col("metric") == metric))
    assert rows.height == 1, (deployment, metric, frame)
    return rows.row(0, named=True)


# 0 of 400 requests failed, then 1 of 401: 0.000% -> 0.249%
TINY_BEFORE, TINY_NOW = {"tiny": (400, 0, {100: 400})}, {"tiny": (401, 1, {100: 400})}


def test_a_first_error_on_a_few_hundred_requests_is_new_not_a_huge_relative_rise():
    changed = summary.changes(totals(TINY_NOW), totals(TINY_BEFORE), HOUR)
    first = row(changed, "tiny", "error_rate")
    assert first["previous"] == 0 and first["current"] == pytest.approx(1 / 401)
    assert first["change"] is None and first["baseline"] == "new"
    assert first["z"] == pytest.approx(0.9994, abs=1e-3), "pooled 1/801: (1/401) / sqrt(p(1-p)(1/400 + 1/401))"
    assert summary.movers(changed).is_empty(), "one error is no evidence of a change"


def test_the_error_rate_z_is_the_pooled_two_proportion_test():
    """10 of 10,000 failed, then 370 of 10,000: pooled p = 380/20,000 = 0.019,
    se = sqrt(0.019 * 0.981 * 2/10,000) = 0.0019308, z = 0.036 / 0.0019308 = 18.65."""
    changed = summary.changes(totals({"d": (10_000, 370, {100: 9_630})}),
                              totals({"d": (10_000, 10, {100: 9_990})}), HOUR)
    moved = row(changed, "d", "error_rate")
    assert moved["z"] == pytest.approx(0.036 / math.sqrt(0.019 * 0.981 * 2 / 10_000))
    assert moved["z"] == pytest.approx(18.65, abs=0.01)
    assert moved["change"] == pytest.approx(36.0) and moved["baseline"] is None, "10 errors before: a ratio is shown"


def test_movers_are_ranked_by_the_evidence_in_the_counts_not_by_the_relative_change():
    before = totals({"busy": (100_000, 1_000, {100: 99_000}), "quiet": (3_000, 3, {100: 2_997}),
                     **TINY_BEFORE})
    now = totals({"busy": (100_000, 2_000, {100: 98_000}), "quiet": (3_000, 30, {100: 2_970}), **TINY_NOW})
    moved = summary.movers(summary.changes(now, before, HOUR))
    # busy: 1% -> 2% (+100%, z 18.4); quiet: 0.1% -> 1% (+900%, z 4.7); tiny: 0% -> 0.249% (z 1.0)
    assert moved.select("deployment", "metric").rows() == [("busy", "error_rate"), ("quiet", "error_rate")]
    assert moved["z"].to_list() == pytest.approx([18.39, 4.71], abs=0.01)
    assert row(moved, "quiet", "error_rate")["baseline"] == "new", "3 errors before: too few for a ratio"


def test_a_p99_of_twenty_requests_is_not_compared():
    changed = summary.changes(totals({"few": (20, 0, {5_000: 20}), "many": (5_000, 0, {100: 4_900, 1_000: 100})}),
                              totals({"few": (20, 0, {100: 20}), "many": (5_000, 0, {100: 5_000})}), HOUR)
    assert changed.filter(pl.col("deployment") == "few")["metric"].to_list() == ["rps", "error_rate"]
    slower = row(changed, "many", "ttft_p99_ms")
    # 0 of 5,000 above the 100 ms bucket before, 100 after: pooled 0.01, z = 0.02 / sqrt(0.01 * 0.99 * 2/5,000)
    assert slower["z"] == pytest.approx(0.02 / math.sqrt(0.01 * 0.99 * 2 / 5_000))
    assert slower["current"] > slower["previous"] == pytest.approx(100, rel=0.01)
    assert summary.MIN_LATENCY_SAMPLES == 1_000


def test_less_traffic_is_worse_and_ranked_by_the_poisson_test():
    changed = summary.changes(totals({"d": (900, 0, {100: 900})}), totals({"d": (1_600, 0, {100: 1_600})}), HOUR)
    fewer = row(changed, "d", "rps")
    assert fewer["z"] == pytest.approx(700 / math.sqrt(2_500)), "(1600 - 900) / sqrt(1600 + 900) = 14, worse"
    assert fewer["change"] == pytest.approx(-0.4375)


def test_an_error_rate_falling_to_zero_from_five_errors_is_not_listed_as_better():
    changed = review_weekly.week_changes(totals({"d": (1_000, 0, {100: 1_000})}), totals({"d": (1_000, 5, {100: 995})}))
    movers = review_weekly.mover_table(changed)
    assert movers.is_empty(), "0.5% -> 0% on 1,000 requests: z = -2.2, within chance"
    text = review_weekly.summary("2026-W48", _no_slos(), pl.DataFrame(), movers, {}, pl.DataFrame())
    assert "Nothing got better." in text and "fell 100%" not in text


def test_the_weekly_paragraph_names_a_significant_move_with_both_values_and_new_for_a_tiny_baseline():
    changed = review_weekly.week_changes(totals({"d": (3_000, 30, {100: 2_970})}), totals({"d": (3_000, 3, {100: 2_997})}))
    movers = review_weekly.mover_table(changed)
    assert movers.select("metric", "direction", "baseline").rows() == [("error_rate", "worse", "new")]
    text = review_weekly.summary("2026-W48", _no_slos(), pl.DataFrame(), movers, {}, pl.DataFrame())
    assert "Worse: error rate of d rose from 0.100% to 1.000% (new)." in text, text


def _no_slos() -> pl.DataFrame:
    return pl.DataFrame(schema={"slo": pl.String, "state": pl.String, "spent_change": pl.Float64,
                                "budget_spent_this_week": pl.Float64, "budget_spent_previous_week": pl.Float64})


def test_what_got_worse_is_listed_before_what_got_better():
    # healed: 2% -> 0.1% of 100,000 (z -41, better); broke: 0.1% -> 1% of 3,000 (z 4.7, worse)
    moved = summary.movers(summary.changes(totals({"healed": (100_000, 100, {100: 99_900}), "broke": (3_000, 30, {100: 2_970})}),
                                           totals({"healed": (100_000, 2_000, {100: 98_000}), "broke": (3_000, 3, {100: 2_997})}),
                                           HOUR))
    assert moved.select("deployment", "metric").rows() == [("broke", "error_rate"), ("healed", "error_rate")]
    assert moved["z"][1] < -40
