"""Latency-SLO-meeting requests from rollup histograms (analytics.goodput)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from analytics import goodput as G
from analytics.errors import InputError
from analytics.slo_spec import parse_slo
from tests import gpu_builders as B


def one_hour(**latencies) -> pl.DataFrame:
    return B.request_hours([B.request_hour("d", 0, **latencies)])


@pytest.mark.parametrize(
    ("latencies", "thresholds", "expected"),
    [
        ({"ttft_ms": [100, 400, 500, 600]}, {"ttft_ms": 500}, 3),
        ({"ttft_ms": [100, 400, 450, 600]}, {"ttft_ms": 450}, 2),
        ({"ttft_ms": [0.5, 1, 2]}, {"ttft_ms": 0.8}, 0),
        ({"ttft_ms": [100, 100, 100, 900], "tpot_ms": [10, 10, 90, 90]}, {"ttft_ms": 500, "tpot_ms": 50}, 1),
        ({"ttft_ms": [100, 900, 900, 900], "tpot_ms": [90, 90, 90, 10]}, {"ttft_ms": 500, "tpot_ms": 50}, 0),
        ({"ttft_ms": [100] * 5, "tpot_ms": [10] * 5, "e2e_ms": [1000] * 4 + [9000]},
         {"ttft_ms": 500, "tpot_ms": 50, "e2e_ms": 5000}, 4),
    ],
    ids=[
        "one field at a bucket edge counts exactly (value == threshold is good)",
        "one field between edges counts the lower bound (450 sits in the 400-500 bucket)",
        "a threshold below the first edge counts nothing for sure",
        "two fields: max(0, 3 + 2 - 4) = 1",
        "two fields: the bound never goes below zero (1 + 1 - 4)",
        "three fields: max(0, 5 + 5 + 4 - 2 x 5) = 4",
    ],
)
def test_good_counts(latencies, thresholds, expected):
    assert G.good_counts(one_hour(**latencies), {"d": thresholds})[0] == expected


def test_rows_of_a_deployment_without_an_slo_are_nan():
    frame = B.request_hours([B.request_hour("d", 0, e2e_ms=[1]), B.request_hour("other", 0, e2e_ms=[1])])
    good = G.good_counts(frame, {"d": {"e2e_ms": 10}})
    assert good[0] == 1 and math.isnan(good[1])


@pytest.mark.parametrize(
    ("thresholds", "text"),
    [
        ({"ttft_ms": 500}, "ttft_ms <= 500 ms"),
        ({"ttft_ms": 450}, "ttft_ms <= 450 ms (lower bound)"),
        ({"ttft_ms": 2000, "tpot_ms": 80}, "ttft_ms <= 2000 ms and tpot_ms <= 80 ms (lower bound)"),
    ],
    ids=["an edge is exact", "between edges is a lower bound", "a joint condition is a lower bound"],
)
def test_describe_labels_lower_bounds(thresholds, text):
    assert G.describe(thresholds) == text


@pytest.mark.parametrize(
    ("slos", "message"),
    [
        ({"d": {"ttfb_ms": 5}}, "unknown field 'ttfb_ms'"),
        ({"d": {"ttft_ms": -1}}, "must be a positive number of ms"),
        ({"d": {"ttft_ms": "fast"}}, "must be a positive number of ms"),
        ({"d": {}}, "no thresholds"),
    ],
    ids=["an unknown field", "a negative threshold", "a threshold that is not a number", "no thresholds"],
)
def test_bad_thresholds_are_input_errors_naming_the_deployment(slos, message):
    with pytest.raises(InputError, match=message) as error:
        G.check_slos(slos)
    assert "'d'" in str(error.value)


def test_hourly_requests_merge_slots_into_hours_with_p99_and_attainment():
    slots = B.request_hours([
        B.request_hour("d", 0, e2e_ms=[10] * 99 + [5000]),
        B.request_hour("d", 1, e2e_ms=[10, 20]),
    ]).with_columns(pl.col("slot").dt.offset_by("5m"))  # slots at :05 belong to their hour
    hourly = G.hourly_requests(slots, {"d": {"e2e_ms": 100}})
    assert hourly["hour"].dt.minute().to_list() == [0, 0]
    first = hourly.row(0, named=True)
    assert first["ok"] == 100 and first["good"] == 99
    assert first["attainment"] == pytest.approx(0.99)
    assert 8 < first["p99_e2e_ms"] <= 10  # rank 99 of 100 lies in the (8, 10] ms bucket
    assert hourly["requests_per_s"][1] == pytest.approx(2 / 3600)


def test_defaults_come_from_the_deployment_kind():
    table = B.deployments([{"deployment": "c", "kind": "chat"}, {"deployment": "e", "kind": "embedding"},
                           {"deployment": "x", "kind": "unknown-kind"}])
    assert G.default_latency_slos(table) == {"c": {"ttft_ms": 2000.0, "tpot_ms": 100.0}, "e": {"e2e_ms": 250.0}}


def _spec(name: str, deployments: list[str], sli) -> object:
    return parse_slo({"name": name, "deployments": deployments, "sli": sli, "target": 99, "window": "28d"})


SPECS = [
    _spec("chat-ttft", ["chat-*"], {"latency": {"field": "ttft_ms", "threshold_ms": 2000}}),
    _spec("chat-a-ttft", ["chat-a"], {"latency": {"field": "ttft_ms", "threshold_ms": 800}}),
    _spec("chat-b-goodput", ["chat-b"], {"goodput": {"ttft_ms": 1000, "tpot_ms": 60}}),
    _spec("everything-up", ["*"], "availability"),
]


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ("chat-a", {"ttft_ms": 800.0}),
        ("chat-b", {"ttft_ms": 1000.0, "tpot_ms": 60.0}),
        ("chat-c", {"ttft_ms": 2000.0}),
        ("embed-d", None),
    ],
    ids=["the strictest latency threshold wins", "a goodput SLO defines the pair",
         "a pattern covers the rest", "availability alone gives no latency threshold"],
)
def test_slo_specs_map_to_thresholds(deployment, expected):
    table = B.deployments([{"deployment": d} for d in ("chat-a", "chat-b", "chat-c", "embed-d")])
    assert G.slos_from_specs(SPECS, table).get(deployment) == expected


def test_the_project_slo_file_overrides_the_defaults_where_it_covers_a_deployment(tmp_path):
    table = B.deployments([{"deployment": "chat-a", "kind": "chat"}, {"deployment": "e", "kind": "embedding"}])
    path = tmp_path / "slos.yaml"
    path.write_text("slos:\n  - {name: t, deployments: chat-a, sli: {latency: {field: ttft_ms, threshold_ms: 500}},"
                    " target: 99, window: 28d}\n")
    assert G.load_latency_slos(path, table) == {"chat-a": {"ttft_ms": 500.0}, "e": {"e2e_ms": 250.0}}
    assert G.load_latency_slos(tmp_path / "absent.yaml", table) == G.default_latency_slos(table)
