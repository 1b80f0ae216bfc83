"""Rolling-origin backtests of the forecast models (analytics.capacity.forecast.METHODS).

Cutoffs follow Prophet's ``cross_validation`` conventions (prophet.diagnostics.generate_cutoffs):
the last cutoff is the end of the data minus the horizon, earlier ones step back by ``period``
while at least ``initial`` of data precedes them; each fold trains on ``ts <= cutoff`` and is
scored on ``cutoff < ts <= cutoff + horizon``. Fits go through analytics.capacity.forecast (the one
adapter), not prophet.diagnostics, so the fold models are exactly the ones the dashboard shows.
``run_candidates`` scores every model on the same folds (what analytics.capacity.selection picks
from); ``run_backtest`` is its Prophet-vs-weekly-seasonal-naive view.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
import polars as pl

from analytics.capacity.forecast import (
    FORECAST_COLUMNS,
    METHODS,
    MIN_HISTORY,
    WEEK,
    ForecastParams,
    check_history,
    regular_grid,
    series_step,
)
from analytics.errors import InputError, SpecError


@dataclass(frozen=True)
class BacktestParams:
    """Rolling-origin settings; None means Prophet's default (period = horizon / 2,
    initial = max(3 x horizon, MIN_HISTORY), where Prophet's floor is the longest seasonality)."""

    horizon: timedelta = timedelta(days=7)
    initial: timedelta | None = None
    period: timedelta | None = None
    max_cutoffs: int = 4  # keep the latest ones: each cutoff is one Prophet fit
    forecast: ForecastParams = field(default_factory=ForecastParams)

    def __post_init__(self):
        if self.horizon <= timedelta(0) or self.max_cutoffs < 1:
            raise SpecError("backtest horizon must be positive and max_cutoffs >= 1")

    def resolved(self) -> tuple[timedelta, timedelta]:
        """(initial, period) with Prophet's defaults filled in."""
        initial = self.initial if self.initial is not None else max(3 * self.horizon, MIN_HISTORY)
        period = self.period if self.period is not None else self.horizon / 2
        return initial, period

    def fit_key(self) -> dict:
        """Plain values identifying the backtest (for the fit cache)."""
        initial, period = self.resolved()
        return {
            "horizon": self.horizon.total_seconds(),
            "initial": initial.total_seconds(),
            "period": period.total_seconds(),
            "max_cutoffs": self.max_cutoffs,
            # Folds forecast to their own reach without growth: the forecast horizon is irrelevant.
            "forecast": replace(self.forecast, horizon=self.horizon, growth=1.0).fit_key(),
        }


def cutoffs(ts: pl.Series, horizon: timedelta, initial: timedelta, period: timedelta) -> list:
    """Cutoff times, oldest first, by prophet.diagnostics.generate_cutoffs' rule."""
    first, last = ts.min(), ts.max()
    cutoff = last - horizon
    if cutoff < first:
        raise InputError(f"less data ({last - first}) than the backtest horizon ({horizon})")
    result = [cutoff]
    while result[-1] >= first + initial:
        cutoff -= period
        if not ((ts > cutoff) & (ts <= cutoff + horizon)).any():
            # No data in (cutoff, cutoff + horizon]: restart from the last data before it.
            if cutoff > first:
                cutoff = ts.filter(ts <= cutoff).max() - horizon
        result.append(cutoff)
    result = result[:-1]
    if not result:
        raise InputError(
            f"less data than horizon ({horizon}) after the initial window ({initial}); "
            "make the horizon or initial shorter"
        )
    return list(reversed(result))


# --- Accuracy measures. y, yhat: 1-d float arrays of equal length with NaN = missing. ---


def mape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute percentage error as a ratio, over points with y != 0 (undefined at 0).

    MAPE = mean(|y - yhat| / |y|) (Hyndman & Koehler 2006, section 3.2; prophet.metrics.mape).
    """
    ok = ~np.isnan(y) & ~np.isnan(yhat) & (y != 0)
    return float(np.mean(np.abs(y[ok] - yhat[ok]) / np.abs(y[ok]))) if ok.any() else float("nan")


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE as a ratio in [0, 2]: mean(|y - yhat| / ((|y| + |yhat|) / 2)), 0/0 = 0.

    Chen & Yang (2004) form, as in prophet.metrics.smape.
    """
    ok = ~np.isnan(y) & ~np.isnan(yhat)
    num = np.abs(y[ok] - yhat[ok])
    den = (np.abs(y[ok]) + np.abs(yhat[ok])) / 2.0
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(np.mean(terms)) if ok.any() else float("nan")


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper] (prophet.metrics.coverage)."""
    ok = ~np.isnan(y) & ~np.isnan(lower) & ~np.isnan(upper)
    return float(np.mean((y[ok] >= lower[ok]) & (y[ok] <= upper[ok]))) if ok.any() else float("nan")


def seasonal_scale(train: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal-naive forecast with lag m: mean(|y_t - y_{t-m}|).

    The MASE denominator of Hyndman & Koehler (2006), eq. for seasonal data; pairs with a
    missing value are skipped.
    """
    if train.size <= m:
        return float("nan")
    d = np.abs(train[m:] - train[:-m])
    d = d[~np.isnan(d)]
    return float(np.mean(d)) if d.size else float("nan")


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray | float) -> float:
    """Mean absolute scaled error: mean(|y - yhat| / scale) (Hyndman & Koehler 2006)."""
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), y.shape)
    ok = ~np.isnan(y) & ~np.isnan(yhat) & (scale > 0)
    return float(np.mean(np.abs(y[ok] - yhat[ok]) / scale[ok])) if ok.any() else float("nan")


def _fold_forecast(method: str, train: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """One model's forecast from one fold; a model that fails there (too short for its seasons, a
    Stan error) gets null forecasts, so it cannot win, instead of sinking the other models."""
    try:
        return METHODS[method](train, params)
    except Exception:  # any model failure is that model's alone (see the docstring)
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), **{c: pl.Float64 for c in FORECAST_COLUMNS[1:]}})


def run_candidates(history: pl.DataFrame, params: BacktestParams, methods: tuple[str, ...] = tuple(METHODS)) -> pl.DataFrame:
    """Forecast from each cutoff with every model in ``methods``.

    Returns one row per (model, scored point): model, cutoff, ts, y, yhat, yhat_lower, yhat_upper
    and scale (the fold's in-sample weekly seasonal-naive MAE, the MASE denominator).
    """
    frame = check_history(history)
    step = series_step(frame)
    m = int(WEEK / step)
    initial, period = params.resolved()
    known = frame.drop_nulls("y")
    cuts = cutoffs(known["ts"], params.horizon, initial, period)[-params.max_cutoffs :]
    folds = []
    for cut in cuts:
        train = frame.filter(pl.col("ts") <= cut)
        test = known.filter((pl.col("ts") > cut) & (pl.col("ts") <= cut + params.horizon))
        reach = cut + params.horizon - train["ts"].max()
        fparams = replace(params.forecast, horizon=reach, growth=1.0)
        scale = seasonal_scale(regular_grid(train, step)["y"].to_numpy().astype(np.float64), m)
        for method in methods:
            folds.append(
                test.join(_fold_forecast(method, train, fparams), on="ts", how="left")
                .with_columns(pl.lit(method).alias("model"), pl.lit(cut).alias("cutoff"), pl.lit(scale).alias("scale"))
                .select("model", "cutoff", "ts", "y", *FORECAST_COLUMNS[1:], "scale")
            )
    return pl.concat(folds)


def run_backtest(history: pl.DataFrame, params: BacktestParams) -> pl.DataFrame:
    """Forecast from each cutoff with Prophet and the weekly seasonal-naive baseline.

    Returns one row per scored point: cutoff, ts, y, yhat/yhat_lower/yhat_upper (Prophet),
    base/base_lower/base_upper (seasonal naive) and scale (the fold's in-sample
    seasonal-naive MAE, for MASE).
    """
    folds = run_candidates(history, params, ("prophet", "seasonal_naive"))
    prophet = folds.filter(pl.col("model") == "prophet").drop("model")
    base = folds.filter(pl.col("model") == "seasonal_naive").select(
        "cutoff", "ts", pl.col("yhat").alias("base"), pl.col("yhat_lower").alias("base_lower"),
        pl.col("yhat_upper").alias("base_upper"))
    return prophet.join(base, on=["cutoff", "ts"], how="left").select(
        "cutoff", "ts", "y", "yhat", "yhat_lower", "yhat_upper", "base", "base_lower", "base_upper", "scale"
    )


@dataclass(frozen=True)
class Scores:
    """One model's accuracy over all folds (ratios, not percent); NaN when it has no forecast."""

    mase: float
    coverage: float
    smape: float


def scores(folds: pl.DataFrame) -> dict[str, Scores]:
    """Pool the folds of ``run_candidates`` per model into MASE, interval coverage and sMAPE."""
    out = {}
    for (model,), part in folds.group_by("model", maintain_order=True):
        col = {c: part[c].cast(pl.Float64).fill_null(float("nan")).to_numpy()
               for c in ("y", "yhat", "yhat_lower", "yhat_upper", "scale")}
        out[model] = Scores(mase=mase(col["y"], col["yhat"], col["scale"]),
                            coverage=coverage(col["y"], col["yhat_lower"], col["yhat_upper"]),
                            smape=smape(col["y"], col["yhat"]))
    return out


@dataclass(frozen=True)
class BacktestSummary:
    """Accuracy of Prophet and the seasonal-naive baseline over all folds (ratios, not percent)."""

    folds: int
    points: int
    mape: float
    smape: float
    coverage: float
    mase: float
    baseline_mape: float
    baseline_smape: float
    baseline_coverage: float
    baseline_mase: float
    prophet_worse: bool
    message: str


def summarize(folds: pl.DataFrame) -> BacktestSummary:
    """Pool the folds of ``run_backtest`` into MAPE, sMAPE, coverage and MASE for both models.

    Prophet counts as worse when its MASE exceeds the baseline's (same scale, so this is the
    MAE comparison; MAPE is not used to decide because it explodes near zero demand).
    """
    col = {c: folds[c].cast(pl.Float64).fill_null(float("nan")).to_numpy() for c in folds.columns if c not in ("cutoff", "ts")}
    y, scale = col["y"], col["scale"]
    p = dict(
        mape=mape(y, col["yhat"]), smape=smape(y, col["yhat"]),
        coverage=coverage(y, col["yhat_lower"], col["yhat_upper"]), mase=mase(y, col["yhat"], scale),
    )
    b = dict(
        mape=mape(y, col["base"]), smape=smape(y, col["base"]),
        coverage=coverage(y, col["base_lower"], col["base_upper"]), mase=mase(y, col["base"], scale),
    )
    worse = bool(p["mase"] > b["mase"]) if not (np.isnan(p["mase"]) or np.isnan(b["mase"])) else False
    if np.isnan(p["mase"]) or np.isnan(b["mase"]):
        message = "Accuracy unknown: too little data to compare Prophet with the seasonal-naive baseline."
    elif worse:
        message = (
            f"Prophet is worse than the seasonal-naive baseline (same time last week): "
            f"MASE {p['mase']:.2f} vs {b['mase']:.2f}. Prefer the baseline for this series."
        )
    else:
        message = f"Prophet beats the seasonal-naive baseline: MASE {p['mase']:.2f} vs {b['mase']:.2f}."
    return BacktestSummary(
        folds=folds["cutoff"].n_unique(), points=int((~np.isnan(y)).sum()),
        mape=p["mape"], smape=p["smape"], coverage=p["coverage"], mase=p["mase"],
        baseline_mape=b["mape"], baseline_smape=b["smape"], baseline_coverage=b["coverage"],
        baseline_mase=b["mase"], prophet_worse=worse, message=message,
    )


def _observed(history: pl.DataFrame, params: BacktestParams) -> tuple[pl.DataFrame, BacktestParams]:
    """The series from its first observed value and folds sized to the span actually observed."""
    observed = history.filter(pl.col("y").is_not_null())["ts"]
    if observed.is_empty():
        raise InputError("no demand in the range")
    span = observed.max() - observed.min() + series_step(check_history(history))
    fitted = auto_params(span, params.horizon, params.forecast, params.max_cutoffs)
    return history.filter(pl.col("ts") >= observed.min()), fitted


def backtest_observed(history: pl.DataFrame, params: BacktestParams) -> pl.DataFrame:
    """``run_backtest`` on a series from its first observed value, with folds sized to the span of
    data actually observed (``auto_params`` of ``params.horizon`` and ``params.forecast``), so a
    store holding 21 days backtests on those 21 days however long the requested history."""
    return run_backtest(*_observed(history, params))


def candidates_observed(history: pl.DataFrame, params: BacktestParams) -> pl.DataFrame:
    """``run_candidates`` (every model) with the folds of ``backtest_observed``."""
    return run_candidates(*_observed(history, params))


def auto_params(span: timedelta, horizon: timedelta, forecast: ForecastParams, max_cutoffs: int = 4) -> BacktestParams:
    """Backtest settings that fit the available history: horizon min(forecast horizon, 1 week),
    period horizon / 2 (Prophet's default), initial as long as still allows ``max_cutoffs`` folds
    (but at least MIN_HISTORY)."""
    h = min(horizon, WEEK)
    period = h / 2
    if span < MIN_HISTORY + h:
        raise InputError(f"a backtest needs at least {MIN_HISTORY + h} of history, got {span}")
    initial = max(MIN_HISTORY, span - h - (max_cutoffs - 1) * period)
    return BacktestParams(horizon=h, initial=initial, period=period, max_cutoffs=max_cutoffs, forecast=forecast)
