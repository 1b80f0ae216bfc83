"""Spec for analytics.review.attribution: values over-represented among bad events rank first,
with the counts beside the score; each SLI judges its own events."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.review import attribution as review_attribution
from analytics.slo.spec import Sli
from analytics.store.conventions import EDGES_MS, N_BUCKETS


def _hist(below: int, above: int, threshold_ms: float = 500.0) -> list[int]:
    """A histogram with `below` values at the bucket holding 100 ms and `above` values at 2 s."""
    h = [0] * N_BUCKETS
    h[int(np.searchsorted(EDGES_MS, 100.0))] += below
    h[int(np.searchsorted(EDGES_MS, 2000.0))] += above
    return h


def _breakdown(rows):
    """rows: (deployment, region, model_version, ok, error, unknown, ttft below/above 500 ms)."""
    return pl.DataFrame([{
        "deployment": d, "region": r, "gpu_type": "H100", "model_version": v, "requests": ok + err + unk,
        "ok": ok, "error": err, "timeout": 0, "rejected": 0, "unknown": unk, "ttft_hist": _hist(*split),
    } for d, r, v, ok, err, unk, split in rows])


def test_availability_ranks_the_region_holding_the_errors_first_with_counts_beside_it():
    frame = _breakdown([
        ("a-use", "us-east", "v1", 900, 5, 0, (900, 0)),
        ("a-euw", "eu-west", "v1", 300, 95, 0, (300, 0)),
    ])
    ranked = review_attribution.attribute(review_attribution.judge(frame, Sli("availability")))
    top = ranked.row(0, named=True)
    assert (top["dimension"], top["value"]) in {("region", "eu-west"), ("deployment", "a-euw")}
    assert top["bad"] == 95 and top["good"] == 300
    # share of the bad (95/100) minus share of the good (300/1200)
    assert top["score"] == pytest.approx(0.95 - 0.25)
    # risk ratio (MacroBase): bad rate in the value over the bad rate elsewhere
    assert top["risk_ratio"] == pytest.approx((95 / 395) / (5 / 905))
    # two-proportion z: (95/395 - 5/905) / sqrt(p (1 - p) (1/395 + 1/905)), p = 100/1300
    p = 100 / 1300
    assert top["z"] == pytest.approx((95 / 395 - 5 / 905) / (p * (1 - p) * (1 / 395 + 1 / 905)) ** 0.5)
    assert ranked.schema == pl.Schema(review_attribution.ATTRIBUTION_SCHEMA)
    # a value shared by every event tells nothing: score 0, risk ratio undefined
    shared = ranked.filter(pl.col("dimension") == "model_version").row(0, named=True)
    assert shared["score"] == pytest.approx(0.0) and shared["risk_ratio"] is None and shared["z"] is None


def test_unknown_outcomes_are_neither_good_nor_bad():
    frame = _breakdown([("a", "r", "v1", 90, 10, 1000, (90, 0))])
    judged = review_attribution.judge(frame, Sli("availability"))
    assert (judged["good"][0], judged["bad"][0]) == (90, 10)


def test_latency_judges_ok_requests_by_the_threshold_and_ranks_the_slow_version_first():
    frame = _breakdown([
        ("a", "us-east", "v1", 1000, 0, 0, (990, 10)),
        ("a", "us-east", "v2", 500, 0, 0, (300, 200)),
    ])
    judged = review_attribution.judge(frame, Sli("latency", field="ttft_ms", threshold_ms=500))
    assert judged["bad"].to_list() == [10, 200]
    top = review_attribution.attribute(judged).row(0, named=True)
    assert (top["dimension"], top["value"], top["bad"]) == ("model_version", "v2", 200)


def test_a_window_without_bad_events_attributes_nothing():
    frame = _breakdown([("a", "r", "v1", 100, 0, 0, (100, 0))])
    assert review_attribution.attribute(review_attribution.judge(frame, Sli("availability"))).is_empty()


def test_affected_deployments_burned_faster_than_the_slo_allows():
    frame = _breakdown([
        ("a", "r", "v1", 990, 10, 0, (0, 0)),  # 1% bad
        ("b", "r", "v1", 9990, 10, 0, (0, 0)),  # 0.1% bad
        ("c", "r", "v1", 100, 0, 0, (0, 0)),
    ])
    judged = review_attribution.judge(frame, Sli("availability"))
    assert review_attribution.affected(judged, target=0.995) == ["a"]
    assert review_attribution.affected(judged, target=0.9999) == ["a", "b"]
    # a thin scope-wide burn names the deployment with the most bad events
    assert review_attribution.affected(judged, target=0.9) == ["a"]


def test_a_handful_of_bad_events_scores_but_its_z_says_it_may_be_chance():
    frame = _breakdown([("a", "r", "v1", 296, 6, 0, (0, 0)), ("a", "r", "v2", 175, 1, 0, (0, 0))])
    top = review_attribution.attribute(review_attribution.judge(frame, Sli("availability"))).row(0, named=True)
    assert top["value"] == "v1" and top["score"] > 0.2 and abs(top["z"]) < 2


def test_rankings_over_different_dimensions_combine_into_one():
    a = review_attribution.attribute(review_attribution.judge(_breakdown([("a", "r", "v1", 90, 10, 0, (0, 0)), ("b", "r", "v2", 100, 0, 0, (0, 0))]),
                            Sli("availability")))
    raw = pl.DataFrame({"replica": ["a/r0", "a/r1"], "input_band": ["0-255", "0-255"], "good": [45.0, 145.0],
                        "bad": [9.0, 1.0]})
    both = review_attribution.combine(a, review_attribution.attribute(raw, review_attribution.RAW_DIMENSIONS))
    assert set(both["dimension"]) == {"deployment", "region", "gpu_type", "model_version", "replica", "input_band"}
    assert both["score"].to_list() == sorted(both["score"].to_list(), reverse=True)
