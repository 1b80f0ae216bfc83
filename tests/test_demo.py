"""The demo fleet: deterministic, realistic in shape, with its incidents where the docs say."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import polars as pl
import pytest

from analytics.ingest.demo import fleet
from analytics.ingest.demo import generator as demo
from analytics.store import conventions
from analytics.store.queries import request_totals
from tests.conftest import DEMO_DAYS, DEMO_END


def _digest(**options) -> str:
    h = hashlib.sha256()
    for table, frame in demo.generate(days=2, requests=5000, end=DEMO_END, scrape_seconds=300, **options):
        h.update(table.encode())
        h.update(frame.write_csv().encode())
    return h.hexdigest()


def test_the_same_seed_gives_the_same_data_and_another_seed_different_data():
    assert _digest(seed=1) == _digest(seed=1)
    assert _digest(seed=1) != _digest(seed=2)


def test_the_fleet_has_the_variety_the_views_need():
    kinds = {d.kind for d in fleet.FLEET}
    assert len(fleet.FLEET) >= 12
    assert {"chat", "code", "embedding", "classic"} <= kinds
    assert len({d.region for d in fleet.FLEET}) == 3
    assert len({d.gpu_type for d in fleet.FLEET}) == 3
    assert {i.kind for i in fleet.INCIDENTS} == {"latency_regression", "error_burst", "region_outage",
                                                  "memory_pressure"}


def test_the_demo_fills_every_deployment_and_the_deployments_table(store):
    totals = request_totals(store, DEMO_END - timedelta(days=DEMO_DAYS), DEMO_END)
    demo_names = {d.deployment for d in fleet.FLEET}
    assert demo_names <= set(totals["deployment"].to_list())
    by_name = dict(zip(totals["deployment"], totals["requests"], strict=True))
    assert by_name[fleet.LOW_TRAFFIC] < min(v for k, v in by_name.items() if k in demo_names and k != fleet.LOW_TRAFFIC)
    table = store.query(f"SELECT deployment, replicas, cost_per_gpu_hour FROM {conventions.DEPLOYMENTS} FINAL")
    assert set(table["deployment"].to_list()) == demo_names
    assert table["cost_per_gpu_hour"].min() > 0


def _incident(kind: str) -> fleet.Incident:
    return next(i for i in fleet.INCIDENTS if i.kind == kind)


def _error_rate(store, deployment: str, start, end) -> float:
    row = request_totals(store, start, end, [deployment]).row(0, named=True)
    return 1 - row["ok"] / row["requests"]


@pytest.mark.parametrize("kind", ["error_burst", "region_outage"], ids=["error burst", "region outage"])
def test_error_incidents_raise_the_error_rate_only_while_they_last(store, kind):
    incident = _incident(kind)
    start = DEMO_END - incident.starts_before_end
    deployment = incident.deployments[0]
    during = _error_rate(store, deployment, start, start + incident.duration)
    day_before = _error_rate(store, deployment, start - timedelta(days=1), start - timedelta(hours=1))
    assert during > 0.15 > 0.01 > day_before


def test_the_latency_regression_runs_on_model_version_v2(store):
    incident = _incident("latency_regression")
    start = DEMO_END - incident.starts_before_end
    versions = store.query(
        f"SELECT model_version, min(slot) AS first, max(slot) AS last FROM {conventions.REQUESTS_5M} "
        "WHERE deployment = {d:String} GROUP BY model_version ORDER BY model_version",
        {"d": incident.deployments[0]},
    )
    v2 = versions.filter(pl.col("model_version") == "v2").row(0, named=True)
    # The first slot with v2 traffic: the rollout's slot, or one just after at this low volume.
    assert start <= v2["first"] < start + timedelta(minutes=30)
    assert v2["last"] < start + incident.duration


def test_memory_pressure_fills_gpu_memory_during_the_incident(store):
    incident = _incident("memory_pressure")
    start = DEMO_END - incident.starts_before_end
    frame = store.query(
        f"SELECT hour, max(fb_used_mib_max / (fb_total_mib_sum / fb_total_mib_n)) AS peak FROM {conventions.GPU_1H} "
        "WHERE deployment = {d:String} GROUP BY hour ORDER BY hour",
        {"d": incident.deployments[0]},
    )
    during = frame.filter((pl.col("hour") >= start) & (pl.col("hour") < start + incident.duration))
    before = frame.filter(pl.col("hour") < start - timedelta(hours=2))
    assert during["peak"].min() > 0.96 > before["peak"].max()


def test_a_large_demo_is_generated_in_bounded_time_ordered_pieces_with_the_same_volume(monkeypatch):
    def requests(window_rows: int) -> list[pl.DataFrame]:
        monkeypatch.setattr(demo, "WINDOW_ROWS", window_rows)
        return [f for table, f in demo.generate(days=2, requests=20_000, end=DEMO_END, scrape_seconds=300)
                if table == conventions.REQUESTS]

    whole, pieces = requests(10**9), requests(1000)
    assert len(pieces) > len(whole)
    assert sum(f.height for f in pieces) == sum(f.height for f in whole)  # the same Poisson counts per slot
    assert max(f.height for f in pieces) < 2000  # about WINDOW_ROWS: one window never holds a whole deployment
    joined = pl.concat(pieces)
    assert joined.group_by("deployment").agg(pl.col("ts").is_sorted().alias("sorted"))["sorted"].all()
