"""Spec for the SLO engine against ClickHouse: rollup counts equal raw counts at bucket edges,
and the demo fleet's injected incidents come back as alert episodes at the right times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.ingest.demo.fleet import INCIDENTS
from analytics.slo import alerts as slo_alerts
from analytics.slo.evaluation import evaluate, evaluate_all
from analytics.slo.files import load_slos
from analytics.slo.pipeline import load_data, load_scope
from analytics.slo.sli import day_grid, resolve, sli_counts
from analytics.slo.spec import Selector, Sli, parse_slo, revise
from analytics.store import conventions
from analytics.store.queries import request_slots
from analytics.store.slo import catalog
from tests.conftest import DEMO_END, ROOT
from tests.slo_builders import delete_requests, insert_requests

# Random requests go to their own deployment in 2020, long before the demo, and are deleted
# afterwards, so the shared session store is left as the other tests expect it.
PROBE_START = datetime(2020, 1, 6, tzinfo=UTC)
_probe_ids = itertools.count()

edge_values = st.sampled_from([float(e) for e in conventions.EDGES_MS[:40]])
latency = st.one_of(st.none(), edge_values, st.floats(0.125, 2e6, width=32))
request = st.tuples(st.integers(0, 7199), st.sampled_from(conventions.STATUSES), latency, latency)


def _insert(store, deployment: str, rows) -> None:
    """rows: (second offset, status, latency for ttft and tpot, e2e)."""
    insert_requests(store, [(PROBE_START + timedelta(seconds=s), deployment, status, ttft, ttft, e2e)
                            for s, status, ttft, e2e in rows])


@pytest.fixture(scope="module")
def probe_store(store):
    """The session store; the probe deployments are deleted once the module is done."""
    yield store
    delete_requests(store, "probe-")


RAW_SQL = f"""
SELECT toUnixTimestamp(toStartOfInterval(ts, INTERVAL 5 MINUTE)) AS slot,
    sum(weight) AS requests, sumIf(weight, status = 'ok') AS ok,
    sumIf(weight, status = 'ok' AND isNotNull(e2e_ms)) AS valid_e2e,
    sumIf(weight, status = 'ok' AND e2e_ms <= {{edge:Float64}}) AS good_e2e,
    sumIf(weight, status = 'ok' AND ttft_ms <= {{a:Float64}} AND tpot_ms <= {{b:Float64}}) AS good_goodput
FROM {conventions.REQUESTS} WHERE deployment = {{d:String}}
GROUP BY slot ORDER BY slot
"""


@settings(max_examples=15, deadline=None)
@given(rows=st.lists(request, min_size=1, max_size=300), edges=st.tuples(*[st.integers(0, 59)] * 3),
       anywhere=st.tuples(st.floats(0.5, 1e6), st.floats(0.5, 1e6)))
def test_rollup_counts_equal_a_raw_sql_count_at_every_bucket_edge(probe_store, rows, edges, anywhere):
    store, deployment = probe_store, f"probe-{next(_probe_ids)}"
    _insert(store, deployment, rows)
    grid = day_grid(PROBE_START, PROBE_START + timedelta(hours=2))
    data = load_scope(store, grid, (deployment,), (), ("e2e_ms", "ttft_ms", "tpot_ms"), joint=True,
                      targeted=(anywhere,))
    e2e, a, b = (float(conventions.EDGES_MS[i]) for i in edges)
    raw = store.query(RAW_SQL, {"d": deployment, "edge": e2e, "a": a, "b": b})
    idx = (raw["slot"].to_numpy().astype(np.int64) - int(grid.start.timestamp())) // conventions.SLOT_SECONDS
    latency = sli_counts(data, Sli("latency", field="e2e_ms", threshold_ms=e2e))
    goodput = sli_counts(data, Sli("goodput", ttft_ms=a, tpot_ms=b))
    assert latency.exact and goodput.exact
    np.testing.assert_array_equal(data.requests[idx], raw["requests"].to_numpy())
    np.testing.assert_array_equal(data.ok[idx], raw["ok"].to_numpy())
    np.testing.assert_array_equal(latency.valid[idx], raw["valid_e2e"].to_numpy())
    np.testing.assert_array_equal(latency.good[idx], raw["good_e2e"].to_numpy())
    np.testing.assert_array_equal(goodput.good[idx], raw["good_goodput"].to_numpy())
    assert latency.valid.sum() == raw["valid_e2e"].sum()  # nothing outside the raw slots
    # the targeted goodput count is exact at any thresholds, edges or not
    raw_anywhere = store.query(RAW_SQL, {"d": deployment, "edge": e2e, "a": anywhere[0], "b": anywhere[1]})
    targeted = sli_counts(data, Sli("goodput", ttft_ms=anywhere[0], tpot_ms=anywhere[1]))
    assert targeted.exact
    np.testing.assert_array_equal(targeted.good[idx], raw_anywhere["good_goodput"].to_numpy())


def test_the_scope_query_agrees_with_the_request_slots_frame(store):
    grid = day_grid(DEMO_END - timedelta(days=2), DEMO_END)
    deployments, regions = resolve(Selector(deployments=("chat-*",)), catalog(store, grid.start, grid.end))
    data = load_scope(store, grid, deployments, regions, ("ttft_ms",))
    frame = request_slots(store, grid.start, grid.end, list(deployments))
    slots = frame["slot"]
    epoch = slots.dt.epoch("s") if slots.dtype.is_temporal() else slots.cast(pl.Int64)
    idx = (epoch.to_numpy() - int(grid.start.timestamp())) // conventions.SLOT_SECONDS
    requests = np.zeros(grid.n, dtype=np.int64)
    hist = np.zeros((grid.n, conventions.N_BUCKETS), dtype=np.int64)
    np.add.at(requests, idx, frame["requests"].to_numpy())
    np.add.at(hist, idx, np.stack(frame["ttft_hist"].to_list()))
    assert requests.sum() > 0
    np.testing.assert_array_equal(data.requests, requests)
    np.testing.assert_array_equal(data.cum["ttft_ms"], np.cumsum(hist, axis=1))


def test_goodput_sources_agree_exactly_at_edges_and_bounds_contain_the_truth(store):
    slo = parse_slo({"name": "g", "deployments": "chat-llama3-8b-use", "sli": {"goodput": {"ttft_ms": 600, "tpot_ms": 25}},
                     "target": 99, "window": "7d"})
    targeted = sli_counts(load_data(store, [slo], DEMO_END)["g"], slo.sli)
    joint = load_data(store, [slo], DEMO_END, goodput_source="joint")["g"]
    rollup = load_data(store, [slo], DEMO_END, goodput_source="rollup")["g"]
    exact, bounds = sli_counts(joint, slo.sli), sli_counts(rollup, slo.sli)
    np.testing.assert_array_equal(targeted.good, exact.good)
    np.testing.assert_array_equal(targeted.valid, exact.valid)
    np.testing.assert_array_equal(exact.valid, bounds.valid)  # every ok LLM request has both fields
    assert np.all(bounds.good_lower <= exact.good) and np.all(exact.good <= bounds.good_upper)
    assert bounds.good_lower.sum() < bounds.good_upper.sum()  # the bounds are not trivially tight


# --- the demo incidents ---------------------------------------------------------------------------

INCIDENT_SLI = {
    "error_burst": "availability",
    "region_outage": "availability",
    "latency_regression": {"latency": {"field": "ttft_ms", "threshold_ms": 600}},
    "memory_pressure": {"latency": {"field": "ttft_ms", "threshold_ms": 1000}},
}


def incident_slo(incident):
    availability = INCIDENT_SLI[incident.kind] == "availability"
    return parse_slo({"name": incident.name, "deployments": list(incident.deployments), "sli": INCIDENT_SLI[incident.kind],
                      "target": 99.5 if availability else 99, "window": "28d", "min_events": 10})


@pytest.fixture(scope="module")
def incident_data(demo_store):
    slos = [incident_slo(i) for i in INCIDENTS]
    return slos, load_data(demo_store, slos, DEMO_END)


@pytest.mark.parametrize("incident", INCIDENTS, ids=[i.name for i in INCIDENTS])
def test_each_injected_incident_pages_while_it_happens(incident_data, incident):
    slos, data = incident_data
    slo = next(s for s in slos if s.name == incident.name)
    episodes = evaluate(slo, data[slo.name], DEMO_END).episodes
    pages = episodes.filter(pl.col("severity") == "page")
    begin = DEMO_END - incident.starts_before_end
    finish = begin + incident.duration
    # pages for the incident start while it happens, or within the hour its 1h window remembers it
    during = pl.col("start").is_between(begin, finish + timedelta(hours=1))
    near, elsewhere = pages.filter(during), pages.filter(~during)
    assert near.height >= 1 and near["start"].min() <= finish
    # low-traffic noise may page elsewhere, but the incident is where the budget went
    assert near["budget_consumed"].sum() > elsewhere["budget_consumed"].sum()


def test_a_stricter_target_pages_more_often(incident_data):
    slos, data = incident_data
    slo = next(s for s in slos if s.name == INCIDENTS[0].name)
    pages = [slo_alerts.count_episodes(evaluate(revise(slo, target=t), data[slo.name], DEMO_END).episodes)["page"]
             for t in (95, 99, 99.9)]
    assert pages == sorted(pages) and pages[0] < pages[-1]


def test_the_default_slos_evaluate_on_the_demo(demo_store):
    slos = load_slos(ROOT / "slos.yaml")
    data = load_data(demo_store, slos, DEMO_END)
    evaluations = evaluate_all(slos, data, DEMO_END)  # composites from their objectives
    assert all(e.status.valid > 0 for e in evaluations)
    assert {e.slo.name for e in evaluations if e.state == "breached" or len(e.episodes)} >= {
        "eu-west-availability", "chat-llama3-8b-use-ttft"}
