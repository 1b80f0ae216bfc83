"""One answer to "did this slot meet its objective?" (analytics.slo.compliance, analytics.slo.objectives).

Hand-checked cases first (frames and arrays, no store), then the rule that matters most: the
SLO pages, capacity and the GPU views agree, hour by hour, on the demo fleet.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics import histogram
from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import plan as capacity_plan
from analytics.gpu import efficiency as gpu
from analytics.gpu import hours as gpu_hours
from analytics.gpu import pipeline as gpu_pipeline
from analytics.ingest.demo import fleet
from analytics.slo import evaluation as slo_evaluation
from analytics.slo import pipeline as slo_pipeline
from analytics.slo.compliance import (
    MIN_EVENTS_PER_HOUR,
    describe_conditions,
    good_requests,
    objectives_met,
    request_conditions,
    slot_compliance,
)
from analytics.slo.files import DEFAULT_SLO_FILE, default_slos, load_slos
from analytics.slo.objectives import objectives_by_deployment
from analytics.slo.sli import SliCounts, histogram_counts, inputs_from_rows, sli_counts
from analytics.slo.spec import parse_slo
from analytics.store.queries import deployments_table
from tests import gpu_builders
from tests.gpu_builders import latency_slo


def counts(good, valid, lower=None, upper=None) -> SliCounts:
    good = np.asarray(good, dtype=float)
    return SliCounts(good, np.asarray(lower if lower is not None else good, dtype=float),
                     np.asarray(upper if upper is not None else good, dtype=float),
                     np.asarray(valid, dtype=float), lower is None)


def test_a_slot_meets_its_objective_when_good_over_valid_reaches_the_target():
    c = slot_compliance(counts([99, 98, 0, 5], [100, 100, 0, 5]), target=0.99, min_events=1)
    assert c.met.tolist() == [True, False, False, True]
    assert c.evaluable.tolist() == [True, True, False, True]
    assert c.attainment[:2].tolist() == [0.99, 0.98] and math.isnan(c.attainment[2])


def test_slots_with_too_few_events_are_not_judged():
    c = slot_compliance(counts([19, 20], [19, 20]), target=0.5, min_events=MIN_EVENTS_PER_HOUR)
    assert c.evaluable.tolist() == [False, True] and c.met.tolist() == [False, True]


def test_between_edges_each_bound_gets_its_own_verdict():
    c = slot_compliance(counts([96], [100], lower=[94], upper=[100]), target=0.95)
    assert (c.met_lower[0], c.met[0], c.met_upper[0]) == (False, True, True)


def one_hour(**latencies) -> pl.DataFrame:
    return gpu_builders.request_hours([gpu_builders.request_hour("d", 0, **latencies)])


def objectives(**thresholds) -> tuple:
    return latency_slo("d", **thresholds)


@pytest.mark.parametrize(
    ("latencies", "thresholds", "expected", "bounds"),
    [
        ({"ttft_ms": [100, 400, 500, 600]}, {"ttft_ms": 500}, 3, (3, 3)),
        ({"ttft_ms": [100, 400, 450, 600]}, {"ttft_ms": 450}, 2 + math.log(450 / 400) / math.log(500 / 400), (2, 3)),
        ({"ttft_ms": [0.5, 1, 2]}, {"ttft_ms": 0.8}, 0.8 * 2, (0, 2)),
        ({"ttft_ms": [100, 100, 100, 900], "tpot_ms": [10, 10, 90, 90]}, {"ttft_ms": 500, "tpot_ms": 50}, 1.5, (1, 2)),
        ({"ttft_ms": [100, 900, 900, 900], "tpot_ms": [90, 90, 90, 10]}, {"ttft_ms": 500, "tpot_ms": 50}, 0.25, (0, 1)),
        ({"ttft_ms": [100] * 5, "tpot_ms": [10] * 5, "e2e_ms": [1000] * 4 + [9000]},
         {"ttft_ms": 500, "tpot_ms": 50, "e2e_ms": 5000}, 4, (4, 4)),
    ],
    ids=[
        "one field at a bucket edge counts exactly (value == threshold is good)",
        "one field between edges interpolates log-linearly in the 400-500 bucket (2 below, 450 and 500 in it)",
        "a threshold below the first edge interpolates linearly from 0 (0.5 and 1 share bucket 0)",
        "two fields: 4 x 3/4 x 2/4 = 1.5 within [max(0, 3 + 2 - 4), 4 - (4 - min(3, 2))] = [1, 2]",
        "two fields: 4 x 1/4 x 1/4 = 0.25; the lower bound never goes below zero (1 + 1 - 4)",
        "three fields: 5 x 1 x 1 x 4/5 = 4, and max(0, 5 + 5 + 4 - 2 x 5) = 4 = min(5, 5, 4)",
    ],
)
def test_good_requests_meet_every_condition(latencies, thresholds, expected, bounds):
    inputs = inputs_from_rows(one_hour(**latencies))
    assert good_requests(inputs, objectives(**thresholds))[0] == pytest.approx(expected)
    counts = histogram_counts(inputs, thresholds)
    assert (counts.good_lower[0], counts.good_upper[0]) == bounds


def test_an_hours_good_requests_are_the_ones_its_goodput_verdict_judged():
    # 10 ok requests, 8 within ttft <= 500 ms, 6 within tpot <= 50 ms: 10 x 8/10 x 6/10 = 4.8 good
    hour = one_hour(ttft_ms=[100] * 8 + [900] * 2, tpot_ms=[10] * 6 + [90] * 4)
    goodput = parse_slo({"name": "g", "sli": {"goodput": {"ttft_ms": 500, "tpot_ms": 50}}, "target": 48,
                         "window": "28d"})
    inputs = inputs_from_rows(hour)
    good = good_requests(inputs, (goodput,))
    assert good[0] == pytest.approx(4.8)
    assert good.tolist() == sli_counts(inputs, goodput.sli).good.tolist()
    verdict = objectives_met(inputs, (goodput,), min_events=1)
    assert verdict.attainment[0] == pytest.approx(4.8 / 10) and verdict.met[0]


def test_without_a_latency_condition_good_requests_are_not_measured():
    availability = parse_slo({"name": "a", "sli": "availability", "target": 99, "window": "28d"})
    assert math.isnan(good_requests(inputs_from_rows(one_hour(e2e_ms=[1])), (availability,))[0])


@pytest.mark.parametrize(
    ("thresholds", "text"),
    [
        ({"ttft_ms": 500}, "ttft_ms <= 500 ms"),
        ({"ttft_ms": 450}, "ttft_ms <= 450 ms (estimate)"),
        ({"ttft_ms": 2000, "tpot_ms": 80}, "ttft_ms <= 2000 ms and tpot_ms <= 80 ms (estimate)"),
    ],
    ids=["an edge is exact", "between edges is an estimate", "a joint condition is an estimate"],
)
def test_conditions_are_described_with_their_bounds(thresholds, text):
    assert describe_conditions(objectives(**thresholds)) == text


def test_a_request_condition_keeps_the_strictest_threshold_per_field():
    slos = (*latency_slo("d", ttft_ms=2000), *latency_slo("e", ttft_ms=600),
            parse_slo({"name": "g", "sli": {"goodput": {"ttft_ms": 1000, "tpot_ms": 30}}, "target": 99,
                       "window": "28d"}))
    assert request_conditions(slos) == {"tpot_ms": 30.0, "ttft_ms": 600.0}


def test_every_objective_must_be_met_and_the_lowest_attainment_is_reported():
    rows = gpu_builders.request_hours([gpu_builders.request_hour("d", 0, ttft_ms=[100] * 30, tpot_ms=[10] * 27 + [90] * 3)])
    verdict = objectives_met(inputs_from_rows(rows), objectives(ttft_ms=500, tpot_ms=50))
    assert verdict.evaluable.tolist() == [True] and verdict.met.tolist() == [False]
    assert verdict.attainment[0] == pytest.approx(0.9)


# --- which objectives judge a deployment ---

SPECS = [
    *latency_slo("chat-*", ttft_ms=2000),
    *latency_slo("chat-a", ttft_ms=800),
    parse_slo({"name": "chat-b-goodput", "deployments": "chat-b", "target": 99, "window": "28d",
               "sli": {"goodput": {"ttft_ms": 1000, "tpot_ms": 60}}}),
    parse_slo({"name": "everything-up", "sli": "availability", "target": 99.9, "window": "28d"}),
]


@pytest.mark.parametrize(
    ("deployment", "kind", "expected"),
    [
        ("chat-a", "chat", ["chat-*-ttft_ms", "chat-a-ttft_ms"]),
        ("chat-b", "chat", ["chat-*-ttft_ms", "chat-b-goodput"]),
        ("embed-c", "embedding", ["default-embedding-latency"]),
        ("fraud-d", "classic", ["default-classic-latency"]),
        ("mystery", "", []),
    ],
    ids=["every covering latency SLO judges it", "a goodput SLO judges it too",
         "availability alone does not: the default for its kind applies",
         "classic models default to end-to-end latency", "no SLO and no kind: not judged"],
)
def test_objectives_are_the_covering_latency_slos_else_the_defaults_for_the_kind(deployment, kind, expected):
    table = gpu_builders.deployments([{"deployment": deployment, "kind": kind}])
    assert [s.name for s in objectives_by_deployment(table, SPECS)[deployment]] == expected


def test_the_packaged_defaults_parse_and_sit_on_bucket_edges():
    slos = default_slos()
    assert DEFAULT_SLO_FILE.is_file() and {s.source for s in slos} == {str(DEFAULT_SLO_FILE)}
    assert {k for s in slos for k in s.selector.kinds} == {"chat", "code", "embedding", "classic"}
    assert all(histogram.is_edge(s.sli.threshold_ms) for s in slos)


# --- the three views agree on the demo fleet ---

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)  # tests/conftest.py
DEPLOYMENT = "chat-mistral-7b-aps"


def test_capacity_gpu_and_slo_views_find_the_same_compliant_hours(demo_store):
    """One deployment, one SLO (TTFT <= 800 ms for 99%), 14 days: every view asks the same function."""
    (slo,) = latency_slo(DEPLOYMENT, target=99, ttft_ms=800)
    start, end = DEMO_END - timedelta(days=14), DEMO_END
    mine = {DEPLOYMENT: (slo,)}

    hours = capacity_pipeline.hourly_histograms(demo_store, start, end, [DEPLOYMENT])
    capacity = capacity_plan.hourly_compliance(hours.sort("hour"), (slo,))

    data = gpu_pipeline.load(demo_store, start, end, [DEPLOYMENT], fields=gpu_hours.fields_of(mine))
    gpu_view = gpu.deployment_hours(data, mine)

    loaded = slo_pipeline.load_data(demo_store, [slo], end, start=start)
    slo_view = slo_evaluation.compliant_hours(slo_evaluation.evaluate(slo, loaded[slo.name], end), start, end)

    def met(frame: pl.DataFrame) -> list[datetime]:
        return sorted(frame.filter(pl.col("met_slo").fill_null(False))["hour"].to_list())

    def judged(frame: pl.DataFrame) -> list[datetime]:
        return sorted(frame.filter(pl.col("evaluable").fill_null(False))["hour"].to_list())

    assert 0 < len(met(capacity)) < len(judged(capacity)), "some hours must miss for the test to mean anything"
    assert met(capacity) == met(gpu_view) == met(slo_view)
    assert judged(capacity) == judged(gpu_view) == judged(slo_view)


def test_the_demo_fleet_objectives_come_from_slos_yaml_then_the_defaults(demo_store):
    from analytics.slo.files import PROJECT_SLO_FILE

    table = objectives_by_deployment(deployments_table(demo_store), load_slos(PROJECT_SLO_FILE))
    assert [s.name for s in table["chat-llama3-8b-use"]] == [
        "chat-llama3-8b-use-ttft", "chat-llama3-8b-use-goodput", "chat-ttft"]
    assert [s.name for s in table[fleet.OVER_PROVISIONED]] == ["code-ttft"]
    assert [s.name for s in table["summarize-mixtral-aps"]] == ["default-llm-ttft", "default-llm-tpot"]
