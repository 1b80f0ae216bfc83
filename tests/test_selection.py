"""The forecaster chosen per series by rolling-origin backtest (analytics.capacity.selection)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity import selection as capacity_selection
from analytics.capacity.backtest import Scores
from analytics.capacity.forecast import NAIVE_METHODS, ForecastParams

DAYS = 28
# Prophet's uncertainty sampling is off: the tests judge point accuracy, and the fits stay fast.
PARAMS = ForecastParams(horizon=timedelta(days=7), uncertainty_samples=0)


def hourly(y: np.ndarray) -> pl.DataFrame:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    ts = pl.datetime_range(start, start + timedelta(hours=len(y) - 1), "1h", time_unit="us", time_zone="UTC", eager=True)
    return pl.DataFrame({"ts": ts, "y": y})


def weekly_copies(seed: int = 7) -> pl.DataFrame:
    """A first week of pure noise around 100, each later week a copy of the one before plus a small
    shock (a seasonal random walk): the same hour last week is the best forecast there is."""
    rng = np.random.default_rng(seed)
    y = np.empty(DAYS * 24)
    y[:168] = 100 + rng.normal(0, 10, 168)
    for t in range(168, y.size):
        y[t] = y[t - 168] + rng.normal(0, 1)
    return hourly(y)


def smooth_daily(seed: int = 7) -> pl.DataFrame:
    """A smooth trend (+0.5 a day) with a daily cycle (amplitude 20) and noise (sd 5)."""
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS * 24)
    return hourly(100 + 0.5 * t / 24 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 5, t.size))


@pytest.fixture(scope="module")
def chosen() -> dict[str, capacity_selection.Selection]:
    series = {"copies": weekly_copies(), "smooth": smooth_daily()}
    return capacity_pipeline.selections(series, PARAMS, cache_dir=None, workers=1)


def test_a_series_whose_weeks_repeat_is_planned_with_the_weekly_seasonal_naive(chosen):
    pick = chosen["copies"]
    assert pick.winner == "seasonal_naive" == pick.baseline
    assert pick.reason.startswith("Seasonal naive, last week drives the plan")
    assert set(pick.scores) == {"prophet", "seasonal_naive", "seasonal_naive_daily", "ets", "mstl", "theta"}
    assert pick.folds == 3 and pick.points == 3 * 168
    assert pick.scores["seasonal_naive"].mase < pick.scores["seasonal_naive_daily"].mase


def test_a_smooth_trend_with_a_daily_cycle_is_planned_with_a_model_that_beats_naive_by_the_margin(chosen):
    pick = chosen["smooth"]
    assert pick.winner not in NAIVE_METHODS
    assert pick.baseline == "seasonal_naive_daily", "yesterday's hour is the better naive on a daily cycle"
    assert pick.scores[pick.winner].mase < pick.scores[pick.baseline].mase * (1 - capacity_selection.MARGIN)
    assert "drives the plan" in pick.reason and "margin" in pick.reason
    for score in pick.scores.values():
        assert 0 <= score.coverage <= 1 and 0 < score.smape < 2


def scores(**mase: float) -> dict[str, Scores]:
    return {model: Scores(mase=value, coverage=0.8, smape=0.1) for model, value in mase.items()}


@pytest.mark.parametrize(
    "mase, winner",
    [
        pytest.param(dict(seasonal_naive=1.0, seasonal_naive_daily=1.2, ets=0.97), "seasonal_naive",
                     id="a model 3% better than naive does not win"),
        pytest.param(dict(seasonal_naive=1.0, seasonal_naive_daily=1.2, ets=0.94), "ets",
                     id="a model 6% better than naive wins"),
        pytest.param(dict(seasonal_naive=1.0, seasonal_naive_daily=0.8, mstl=0.78, prophet=0.9), "seasonal_naive_daily",
                     id="the baseline is the better naive variant: 2.5% better than it does not win"),
        pytest.param(dict(seasonal_naive=1.0, seasonal_naive_daily=float("nan"), theta=0.5, prophet=float("nan")), "theta",
                     id="a model without a score cannot be the baseline or win"),
    ],
)
def test_the_margin_rule_on_hand_made_scores(mase, winner):
    assert capacity_selection.choose(scores(**mase)).winner == winner


def test_a_model_just_within_the_margin_is_named_with_its_gain():
    pick = capacity_selection.choose(scores(seasonal_naive=1.0, seasonal_naive_daily=1.1, ets=0.97))
    assert pick.reason == ("Seasonal naive, last week drives the plan (backtest MASE 1.00): the best other "
                           "model (AutoETS) scores MASE 0.97, only 3% better, within the 5% margin.")


def test_a_series_too_short_to_backtest_keeps_the_weekly_naive_and_says_why():
    short = weekly_copies().head(8 * 24)
    (pick,) = capacity_pipeline.selections({"short": short}, PARAMS, cache_dir=None, workers=1).values()
    assert pick.winner == "seasonal_naive" and pick.scores == {}
    assert "not backtested" in pick.reason and "needs at least" in pick.reason


def test_the_scoreboard_lists_every_model_best_first_with_the_winner_marked(chosen):
    board = capacity_selection.scoreboard(chosen["smooth"])
    assert board.height == 6 and board["mase"].is_sorted()
    assert board.filter(pl.col("winner"))["forecast_model"].to_list() == [board["forecast_model"][0]]
