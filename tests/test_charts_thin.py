"""Min-max thinning of long line series (analytics.charts.base.thin): what a chart's pixel columns
can show is kept, peaks and dips included, and short series are untouched."""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.charts.base import thin


def _month_of_slots(seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 30 * 288  # a month of 5-minute slots
    burn = rng.random(n)
    burn[[17, 4000, 8639]] = [55.0, 80.0, 70.0]  # spikes, one in the last row
    dips = rng.random(n) + 1
    dips[6000] = -3.0
    return pl.DataFrame({"time": np.arange(n), "burn_1h": burn, "burn_6h": dips})


def test_a_long_series_shrinks_to_about_the_points_asked_for():
    frame = _month_of_slots()
    thinned = thin(frame, ["burn_1h", "burn_6h"], points=1000)
    assert 300 < thinned.height <= 1000


def test_every_peak_and_dip_and_both_ends_are_kept_in_order():
    frame = _month_of_slots()
    thinned = thin(frame, ["burn_1h", "burn_6h"], points=600)
    assert thinned["time"].is_sorted()
    assert {0, 17, 4000, 6000, 8639} <= set(thinned["time"].to_list())
    assert thinned["burn_1h"].max() == frame["burn_1h"].max()
    assert thinned["burn_6h"].min() == frame["burn_6h"].min()


def test_rows_are_kept_whole_and_unchanged():
    frame = _month_of_slots()
    thinned = thin(frame, ["burn_1h"], points=500)
    assert thinned.join(frame, on="time", suffix="_raw").select(
        (pl.col("burn_6h") == pl.col("burn_6h_raw")).all()).item()


def test_missing_values_and_empty_stretches_do_not_break_it():
    frame = _month_of_slots().with_columns(
        pl.when(pl.col("time") < 3000).then(float("nan")).otherwise(pl.col("burn_1h")).alias("burn_1h"),
        pl.when(pl.col("time") < 100).then(None).otherwise(pl.col("burn_6h")).alias("burn_6h"))
    thinned = thin(frame, ["burn_1h", "burn_6h"], points=800)
    assert thinned["time"][0] == 0 and thinned["time"][-1] == frame.height - 1
    assert thinned["burn_1h"].max() == frame["burn_1h"].max()


def test_a_series_short_enough_already_is_returned_as_it_is():
    frame = _month_of_slots().head(700)
    assert thin(frame, ["burn_1h"], points=1000).equals(frame)
