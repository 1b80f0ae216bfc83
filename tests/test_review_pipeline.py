"""Spec for analytics.review.pipeline on the demo fleet: the week's incidents, their attribution and
the deploy markers tell the story of the injected incidents (analytics.ingest.demo.fleet.INCIDENTS)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from analytics.errors import InputError
from analytics.ingest.demo.fleet import INCIDENTS
from analytics.review import pipeline as review_pipeline
from analytics.slo import files
from tests.conftest import DEMO_END

REGRESSION = next(i for i in INCIDENTS if i.kind == "latency_regression")
OUTAGE = next(i for i in INCIDENTS if i.kind == "region_outage")


def _week_of(incident) -> str:
    year, week, _ = (DEMO_END - incident.starts_before_end).isocalendar()
    return f"{year}-W{week:02d}"


@pytest.fixture(scope="module")
def review(store):
    """The review of the ISO week holding the latency regression (the region outage falls in it too)."""
    assert _week_of(REGRESSION) == _week_of(OUTAGE)
    start, end = review_pipeline.iso_week(_week_of(REGRESSION))
    return review_pipeline.weekly(store, files.load_slos(files.PROJECT_SLO_FILE), start, end)


def _overlapping(review, incident) -> pl.DataFrame:
    start = DEMO_END - incident.starts_before_end
    end = start + incident.duration
    return review.incidents.filter((pl.col("start") < end) & (pl.col("end").fill_null(review.end) > start))


def test_the_latency_regression_is_one_incident_not_one_per_alert(review):
    found = _overlapping(review, REGRESSION)
    assert found.height == 1, found
    row = found.row(0, named=True)
    assert row["deployments"] == "chat-llama3-8b-use" and row["severity"] == "page"
    # its page and ticket episodes of two SLOs are all inside it
    spans = review.spans.filter(pl.col("incident") == row["incident"])
    assert set(spans["slo"]) >= {"chat-llama3-8b-use-ttft", "chat-llama3-8b-use-goodput"}


def test_attribution_ranks_the_rolled_out_model_version_first(review):
    incident = _overlapping(review, REGRESSION)["incident"][0]
    top = review.attribution.filter(pl.col("incident") == incident).row(0, named=True)
    assert (top["rank"], top["dimension"], top["value"]) == (1, "model_version", "v2")
    assert top["bad"] > 0 and top["good"] > 0 and top["score"] > 0.5


def test_the_rollout_is_a_deploy_marker_just_before_the_incident(review):
    incident = _overlapping(review, REGRESSION).row(0, named=True)
    marker = review.changes.filter((pl.col("deployment") == "chat-llama3-8b-use")
                                   & (pl.col("kind") == "model_version") & (pl.col("after") == "v2"))
    assert marker.height == 1
    lead = incident["start"] - marker["ts"][0]
    assert timedelta(0) <= lead <= timedelta(hours=3), lead
    assert marker["ts"][0] == DEMO_END - REGRESSION.starts_before_end
    # and the rollback back to v1 is one too; nothing else changed in the demo fleet that week
    assert review.changes.height == 2


def test_the_region_outage_is_attributed_to_its_region(review):
    found = _overlapping(review, OUTAGE)
    assert found.height == 1
    row = found.row(0, named=True)
    assert set(row["deployments"].split(", ")) == set(OUTAGE.deployments)
    top = review.attribution.filter(pl.col("incident") == row["incident"]).row(0, named=True)
    assert (top["dimension"], top["value"]) == ("region", "eu-west")


@pytest.mark.parametrize("text", ["2026-43", "2026-W54", "W43", ""], ids=["no W", "no such week", "no year", "empty"])
def test_a_bad_week_is_one_clear_error(text):
    with pytest.raises(InputError, match="ISO week such as 2026-W43"):
        review_pipeline.iso_week(text)


def test_replica_and_input_band_counts_from_raw_requests_agree_with_the_rollup(review):
    incident = _overlapping(review, OUTAGE)["incident"][0]
    ranked = review.attribution.filter(pl.col("incident") == incident)
    totals = ranked.group_by("dimension").agg(pl.col("bad").sum(), pl.col("good").sum()).sort("dimension")
    assert set(totals["dimension"]) == {"deployment", "region", "gpu_type", "model_version", "replica", "input_band"}
    # availability is exact on both paths, so every dimension partitions the same events
    assert totals["bad"].n_unique() == 1 and totals["good"].n_unique() == 1, totals
