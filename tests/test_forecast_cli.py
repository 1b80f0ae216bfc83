"""`python -m analytics forecast` (analytics.cli.forecast) against the demo store."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.cli import forecast as cli
from analytics.errors import InputError
from analytics.ingest.demo import fleet
from analytics.store import conventions

JSON_KEYS = {
    "deployment", "metric", "horizon_hours", "mape", "smape", "coverage", "mase", "baseline_mape",
    "gpus_needed_peak", "capacity_exhausted_at", "forecast", "forecast_reason", "backtest_reason", "capacity_reason",
    "model", "model_reason", "scores", "per_gpu_throughput", "capacity_basis", "binding", "extrapolated", "per_gpu_band",
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(capacity_cache, "DEFAULT_CACHE_DIR", tmp_path / "forecast-cache")


@pytest.fixture(scope="module")
def demo_end(demo_store) -> str:
    last = demo_store.scalar(f"SELECT max(slot) FROM {conventions.REQUESTS_5M}")
    last = datetime.fromtimestamp(last, UTC) if isinstance(last, int) else last
    return (last + timedelta(minutes=5)).isoformat()


def run(store, capsys, *argv) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    code = cli.run(parser.parse_args(list(argv)), store)
    return code, capsys.readouterr().out


def test_json_gives_every_field_per_deployment_and_the_forecast_rows(demo_store, demo_end, capsys):
    code, out = run(demo_store, capsys, "--json", "--days", "21", "--end", demo_end, "--horizon", "2d",
                    "--method", "seasonal_naive", "--deployment", fleet.GROWING, "--deployment", fleet.LOW_TRAFFIC)
    assert code == 0
    rows = {r["deployment"]: r for r in json.loads(out)}
    assert set(rows) == {fleet.GROWING, fleet.LOW_TRAFFIC}
    growing = rows[fleet.GROWING]
    assert JSON_KEYS <= set(growing)
    assert (growing["metric"], growing["horizon_hours"], len(growing["forecast"])) == ("rps", 48, 48)
    first = datetime.fromisoformat(growing["forecast"][0]["ts"])
    assert first == datetime.fromisoformat(demo_end), "the forecast starts at the end of the history"
    assert growing["mape"] is None, "accuracy needs --backtest"
    assert (growing["model"], growing["scores"]) == ("seasonal_naive", None), "an explicit method is not selected"
    # 21 days at 40% of its fitted curve's capacity: the curve is not trusted and the basis says why
    assert (growing["binding"], growing["extrapolated"], growing["per_gpu_band"]) == (None, True, None)
    assert growing["capacity_basis"].startswith("latency-vs-load curve not trusted")
    quiet = rows[fleet.LOW_TRAFFIC]
    assert quiet["gpus_needed_peak"] is None and quiet["capacity_exhausted_at"] is None
    assert (quiet["binding"], quiet["extrapolated"], quiet["per_gpu_band"]) == (None, None, None)
    assert "too little data" in quiet["capacity_reason"]
    assert quiet["forecast_reason"] is None and quiet["backtest_reason"] is None


def test_each_stage_says_why_it_has_no_answer_so_one_reason_never_hides_another(demo_store, demo_end, capsys):
    """A quiet deployment with eight days of history: the backtest (too short) and the capacity plan (too
    quiet) fail for different reasons, and JSON and text name both."""
    argv = ("--backtest", "--days", "8", "--end", demo_end, "--horizon", "2d", "--method", "seasonal_naive",
            "--deployment", fleet.LOW_TRAFFIC)
    code, out = run(demo_store, capsys, "--json", *argv)
    assert code == 0
    (row,) = json.loads(out)
    assert "too little data" in row["capacity_reason"]
    assert "needs at least" in row["backtest_reason"]
    assert row["mape"] is None
    code, text = run(demo_store, capsys, *argv)
    assert f"{fleet.LOW_TRAFFIC}: no capacity: too little data" in text
    assert f"{fleet.LOW_TRAFFIC}: no backtest: " in text


def test_backtest_fills_the_accuracy_fields_and_the_growing_deployment_runs_out(demo_store, demo_end, capsys):
    code, out = run(demo_store, capsys, "--json", "--backtest", "--days", "21", "--end", demo_end,
                    "--deployment", fleet.GROWING, "--horizon", "28d", "--method", "prophet")
    assert code == 0
    (row,) = json.loads(out)
    for key in ("mape", "smape", "coverage", "mase", "baseline_mape"):
        assert isinstance(row[key], float) and row[key] >= 0, key
    assert datetime.fromisoformat(row["capacity_exhausted_at"]) > datetime.fromisoformat(demo_end)
    assert row["gpus_needed_peak"] > row["gpus_current"]


def test_backtest_folds_follow_the_data_present_not_the_requested_history(demo_store, demo_end, capsys):
    """The store holds 35 days; asking for 60 (the default) must still backtest on those 35, as the page does.
    The default method (auto) says which model drives the plan, why, and every model's backtest scores."""
    code, out = run(demo_store, capsys, "--json", "--backtest", "--horizon", "7d", "--deployment", fleet.GROWING)
    assert code == 0
    (row,) = json.loads(out)
    assert isinstance(row["mape"], float) and row["backtest_reason"] is None
    assert set(row["scores"]) == set(capacity_forecast.METHODS) and row["model"] in row["scores"]
    for model, score in row["scores"].items():
        assert set(score) == {"mase", "coverage", "smape"} and score["mase"] > 0, model
    assert row["model_reason"].startswith(capacity_forecast.MODEL_LABELS[row["model"]] + " drives the plan")
    assert datetime.fromisoformat(row["forecast"][0]["ts"]) == datetime.fromisoformat(demo_end), \
        "history ends at the end of the data, not now"


def test_text_output_lists_deployments_and_the_fleet_by_gpu_type(demo_store, demo_end, capsys):
    code, out = run(demo_store, capsys, "--days", "21", "--end", demo_end, "--method", "seasonal_naive")
    assert code == 0
    assert "Capacity runs out (UTC)" in out and "GPU type" in out  # the column registry's labels
    assert "Forecast model" in out and "Seasonal naive, last week" in out
    assert all(d.deployment in out for d in fleet.FLEET)
    assert "no capacity: too little data" in out


@pytest.mark.parametrize(
    "text, expected",
    [("14d", timedelta(days=14)), ("2w", timedelta(weeks=2)), ("36h", timedelta(hours=36)), ("12w", timedelta(weeks=12))],
    ids=["days", "weeks", "hours", "the 12-week maximum"],
)
def test_horizons_are_parsed(text, expected):
    assert cli.parse_horizon(text) == expected


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--horizon", "13w"], "between 1h and 12w", id="horizon over 12 weeks"),
        pytest.param(["--horizon", "fortnight"], "duration like 14d", id="horizon not a duration"),
        pytest.param(["--deployment", "nope"], "unknown deployment 'nope'", id="unknown deployment"),
        pytest.param(["--event", "launch"], "NAME:YYYY-MM-DD", id="event without a date"),
        pytest.param(["--event", "launch:2026-13-01"], "launch:2026-13-01", id="event with an impossible date"),
        pytest.param(["--days", "3"], "--days must be at least 8", id="too short a history"),
        pytest.param(["--interval", "120"], "interval width", id="interval over 100 percent"),
        pytest.param(["--end", "yesterday"], "ISO-8601", id="end not a time"),
    ],
)
def test_bad_input_is_refused_with_a_one_line_reason(demo_store, capsys, argv, message):
    with pytest.raises(InputError, match=message):
        run(demo_store, capsys, "--method", "seasonal_naive", *argv)
