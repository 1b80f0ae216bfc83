"""Spec for analytics.review.changes and analytics.charts.review: deploy markers found from what served
the traffic, drawn as annotations on a copy of a figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import polars as pl

from analytics.charts import review as charts_review
from analytics.review import changes as review_changes

T0 = datetime(2026, 10, 20, tzinfo=UTC)
SLOT = timedelta(minutes=5)


def _values(rows):
    """rows: (deployment, slot index, model_version, gpu_type, requests)."""
    return pl.DataFrame([{"deployment": d, "slot": T0 + i * SLOT, "model_version": v, "gpu_type": g, "requests": n}
                         for d, i, v, g, n in rows],
                        schema={"deployment": pl.String, "slot": pl.Datetime("us", "UTC"), "model_version": pl.String,
                                "gpu_type": pl.String, "requests": pl.UInt64})


def test_a_switch_of_the_serving_version_is_one_marker_each_way():
    rows = [("d", i, "v2" if 10 <= i < 40 else "v1", "A100", 10) for i in range(60)]
    found = review_changes.value_changes(_values(rows))
    assert found.select("ts", "kind", "before", "after").rows() == [
        (T0 + 10 * SLOT, "model_version", "v1", "v2"), (T0 + 40 * SLOT, "model_version", "v2", "v1")]
    assert found["description"][0] == "model_version v1 → v2 (100% of requests)"


def test_a_gradual_rollout_marks_the_canary_the_switch_and_the_old_version_leaving():
    rows = []
    for i in range(60):
        share = 0 if i < 10 else (1 if i < 30 else (6 if i < 45 else 10))  # v2 out of 10 requests
        rows += [("d", i, "v2", "A100", share)] * (share > 0) + [("d", i, "v1", "A100", 10 - share)] * (share < 10)
    found = review_changes.value_changes(_values(rows))
    assert found.select("ts", "before", "after").rows() == [
        (T0 + 10 * SLOT, None, "v2"), (T0 + 30 * SLOT, "v1", "v2"), (T0 + 45 * SLOT, "v1", None)]
    assert "starts serving (10% of requests)" in found["description"][0]


def test_a_dominant_value_flapping_within_an_hour_cancels_out():
    # a 50/50 split: the dominant value alternates every slot and ends where it started
    rows = [("d", i, "v1", "A100", 6) for i in range(31)] + [("d", i, "v2", "A100", 7 if i % 2 else 5) for i in range(31)]
    assert review_changes.value_changes(_values(rows)).is_empty()
    # ... unless it ends on the other value: then one marker for the whole flapping stretch
    found = review_changes.value_changes(_values(rows + [("d", 31, "v2", "A100", 10)]))
    assert found.select("ts", "before", "after").rows() == [(T0 + SLOT, "v1", "v2")]


def test_gpu_type_changes_are_markers_too_and_a_deployment_without_traffic_is_not_a_change():
    rows = [("d", i, "v1", "A100" if i < 20 else "H100", 10) for i in range(40) if not 15 <= i < 25]
    found = review_changes.value_changes(_values(rows))
    assert found.select("ts", "kind", "before", "after").rows() == [(T0 + 25 * SLOT, "gpu_type", "A100", "H100")]


def _gpus(counts):
    return pl.DataFrame({"deployment": ["d"] * len(counts), "hour": [T0 + timedelta(hours=h) for h in range(len(counts))],
                         "gpus": counts}, schema={"deployment": pl.String, "hour": pl.Datetime("us", "UTC"),
                                                  "gpus": pl.UInt64})


def test_replica_count_changes_from_the_gpus_reporting_and_a_missing_node_for_an_hour_is_not_one():
    found = review_changes.replica_changes(_gpus([8, 8, 6, 8, 8, 12, 12]), {"d": 2})
    assert found.select("ts", "before", "after", "description").rows() == [
        (T0 + timedelta(hours=5), "4", "6", "replicas 4 → 6")]


def test_no_telemetry_no_markers():
    empty = review_changes.changes(_values([]), _gpus([]), {})
    assert empty.is_empty() and empty.schema == pl.Schema(review_changes.CHANGE_SCHEMA)


def test_markers_are_drawn_on_a_copy_of_the_figure_with_labels_escaped():
    fig = go.Figure(go.Scatter(x=["2026-10-20 00:00:00", "2026-10-21 00:00:00"], y=[1, 2]))
    changes = pl.DataFrame([{"deployment": "d", "ts": T0 + 10 * SLOT, "kind": "model_version", "before": "v1",
                             "after": "<b>v2</b>", "description": "model_version v1 → <b>v2</b>"},
                            {"deployment": "e", "ts": T0, "kind": "replicas", "before": "4", "after": "6",
                             "description": "replicas 4 → 6"}], schema=review_changes.CHANGE_SCHEMA)
    marked = charts_review.add_markers(fig, changes, deployments=["d"])
    assert not fig.layout.shapes and not fig.layout.annotations
    assert len(marked.layout.shapes) == 1 and marked.layout.shapes[0].x0 == "2026-10-20 00:50:00"
    assert marked.layout.annotations[0].text == "&lt;b&gt;v2&lt;/b&gt;"
    assert len(charts_review.add_markers(fig, changes).layout.shapes) == 2
