"""Spec for analytics.charts.slo: figures are built from the engine's frames, empty ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.charts import slo as charts_slo
from analytics.slo.alerts import EPISODE_SCHEMA
from analytics.slo.evaluation import evaluate
from analytics.slo.spec import parse_slo
from analytics.slo.whatif import suggest_target
from tests.test_slo import T0, make_scope

AT = T0 + timedelta(days=30)


def _evaluation():
    requests = np.full(30 * 288, 100, dtype=np.int64)
    ok = requests.copy()
    ok[20 * 288: 20 * 288 + 24] = 0  # two hours of errors
    slo = parse_slo({"name": "s", "sli": "availability", "target": 99.9, "window": "30d"})
    return slo, make_scope(requests, ok)


def test_burn_rate_thresholds_are_lines_at_their_value_on_the_log_axis():
    from analytics.slo.budget import burn_series

    slo, data = _evaluation()
    e = evaluate(slo, data, AT)
    frame = burn_series(e.units, slo.target, e.grid, T0, AT, (timedelta(hours=1),))
    fig = charts_slo.burn_rate_chart(frame, {"page 1h/5m: 14.4": 14.4})
    threshold = next(t for t in fig.data if t.name == "page 1h/5m: 14.4")
    assert list(threshold.y) == [14.4, 14.4]
    assert fig.layout.yaxis.type == "log"
    burn = next(t for t in fig.data if t.name == "burn over 1h")
    assert max(v for v in burn.y if v is not None) == pytest.approx(1000)  # an hour of errors, 0.1% allowed


def test_episodes_timeline_draws_one_bar_per_episode_and_survives_none():
    slo, data = _evaluation()
    e = evaluate(slo, data, AT)
    fig = charts_slo.episodes_timeline(e.episodes, T0, AT)
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(len(b.x) for b in bars) == e.episodes.height > 0
    empty = charts_slo.episodes_timeline(pl.DataFrame(schema=EPISODE_SCHEMA), T0, AT)
    assert not [t for t in empty.data if t.type == "bar"]


def test_burn_down_has_an_ideal_line_from_the_start_to_zero_at_the_period_end():
    from analytics.slo.budget import burn_down

    slo, data = _evaluation()
    e = evaluate(slo, data, AT)
    fig = charts_slo.burn_down_chart({"current": burn_down(slo, e.units, e.grid, AT)}, AT)
    ideal = next(t for t in fig.data if t.name == "current ideal")
    assert list(ideal.y) == [1.0, 0.0]


def test_sli_and_window_charts_show_the_target():
    from analytics.slo.budget import sli_series

    slo, data = _evaluation()
    e = evaluate(slo, data, AT)
    fig = charts_slo.sli_chart(sli_series(e.counts, e.grid, T0, AT, timedelta(hours=1)), slo.target, "SLI")
    assert any(s.y0 == slo.target for s in fig.layout.shapes)
    suggestion = suggest_target(slo, data, datetime(2026, 10, 31, tzinfo=UTC), 0.9)
    fig = charts_slo.window_attainment_chart(suggestion.windows, suggestion.target, slo.target, slo.target)
    assert len(fig.data) == 1 and len(fig.layout.shapes) == (2 if suggestion.target else 1)


def test_the_past_windows_chart_labels_the_current_and_the_proposed_target_each_with_its_own_value():
    slo, data = _evaluation()
    windows = suggest_target(slo, data, AT, 0.9).windows
    fig = charts_slo.window_attainment_chart(windows, 0.9968, current=0.99, proposed=0.997)
    labels = {a.text: a.y for a in fig.layout.annotations}
    assert labels == {"current 99.00%": 0.99, "proposed 99.70%": 0.997, "suggested 99.68%": 0.9968}
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.99, 0.9968, 0.997]
    side = {a.text: a.xanchor for a in fig.layout.annotations}
    assert side["suggested 99.68%"] != side["proposed 99.70%"]  # 0.02 points apart: labels at opposite ends
    unchanged = charts_slo.window_attainment_chart(windows, None, current=0.99999, proposed=0.99999)
    assert [a.text for a in unchanged.layout.annotations] == ["current 99.999%"]  # all its nines, once
