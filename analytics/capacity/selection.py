"""The forecaster of each series, chosen by rolling-origin backtest.

Every model of analytics.capacity.forecast.METHODS is backtested on the same folds
(analytics.capacity.backtest.run_candidates) and scored by MASE, interval coverage and sMAPE. The
rule follows Hyndman & Athanasopoulos, FPP3 sections 5.8-5.10 (compare forecasters on
time-series cross-validation against simple benchmarks, MASE being scale-free) and M4 practice
(Makridakis, Spiliotis & Assimakopoulos 2020: methods are ranked by their improvement over naive
benchmarks, which several submitted methods failed to beat): the baseline is the better of the two
seasonal-naive variants (same hour last week, same hour yesterday), and another model drives the
plan only when its MASE is below the baseline's by more than MARGIN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from analytics.capacity import backtest as capacity_backtest
from analytics.capacity.forecast import MODEL_LABELS, NAIVE_METHODS

# A model must cut the baseline's MASE by more than 5% to replace it: a judgment call, not a
# statistical test. With at most four one-week folds the MASE of two close models swaps rank from
# fold to fold, so a gain of a few percent is inside that noise; and a seasonal-naive forecast is
# transparent, instant and fails loudly, so a near tie goes to it.
MARGIN = 0.05


@dataclass(frozen=True)
class Selection:
    """Which model drives one series' plan and why."""

    winner: str
    baseline: str
    scores: Mapping[str, capacity_backtest.Scores]
    folds: int
    points: int
    reason: str


def _usable(value: float) -> bool:
    return value is not None and math.isfinite(value)


def choose(scores: Mapping[str, capacity_backtest.Scores], folds: int = 0, points: int = 0,
           margin: float = MARGIN) -> Selection:
    """The winner by the margin rule (module docstring) from each model's pooled scores."""
    naive = [m for m in NAIVE_METHODS if m in scores and _usable(scores[m].mase)]
    if not naive:
        return unscored("no seasonal-naive baseline could be scored", scores, folds, points)
    baseline = min(naive, key=lambda m: scores[m].mase)
    base = scores[baseline].mase
    others = [m for m in scores if m not in NAIVE_METHODS and _usable(scores[m].mase)]
    best = min(others, key=lambda m: scores[m].mase) if others else None
    if best is not None and scores[best].mase < base * (1.0 - margin):
        reason = (f"{MODEL_LABELS[best]} drives the plan: its backtest MASE {scores[best].mase:.2f} is "
                  f"{1 - scores[best].mase / base:.0%} below the better seasonal naive's "
                  f"({MODEL_LABELS[baseline]}: {base:.2f}), more than the {margin:.0%} margin.")
        return Selection(best, baseline, dict(scores), folds, points, reason)
    if best is None:
        why = "no other model could be scored"
    else:
        gain = 1 - scores[best].mase / base
        why = (f"the best other model ({MODEL_LABELS[best]}) scores MASE {scores[best].mase:.2f}, "
               + (f"only {gain:.0%} better, within the {margin:.0%} margin" if gain > 0 else "no better"))
    reason = f"{MODEL_LABELS[baseline]} drives the plan (backtest MASE {base:.2f}): {why}."
    return Selection(baseline, baseline, dict(scores), folds, points, reason)


def unscored(why: str, scores: Mapping[str, capacity_backtest.Scores] | None = None, folds: int = 0,
             points: int = 0) -> Selection:
    """The choice when a series cannot be backtested: the weekly seasonal naive, saying why."""
    return Selection("seasonal_naive", "seasonal_naive", dict(scores or {}), folds, points,
                     f"{MODEL_LABELS['seasonal_naive']} drives the plan: not backtested ({why}).")


def select(folds: pl.DataFrame) -> Selection:
    """The winner of one series from its ``run_candidates`` folds."""
    scored = folds.filter(pl.col("model") == NAIVE_METHODS[0])
    return choose(capacity_backtest.scores(folds), scored["cutoff"].n_unique(), scored["y"].drop_nulls().len())


def scoreboard(selection: Selection) -> pl.DataFrame:
    """One row per model, best MASE first: forecast_model (label), mase, interval_coverage, smape, winner."""
    rows = [{"forecast_model": MODEL_LABELS.get(m, m), "mase": s.mase, "interval_coverage": s.coverage, "smape": s.smape,
             "winner": m == selection.winner} for m, s in selection.scores.items()]
    frame = pl.DataFrame(rows, schema={"forecast_model": pl.String, "mase": pl.Float64, "interval_coverage": pl.Float64,
                                       "smape": pl.Float64, "winner": pl.Boolean})
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).sort("mase", nulls_last=True)
