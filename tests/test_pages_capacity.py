"""AppTest for the Capacity page against the demo store (one deployment, to keep Prophet fits few)."""

from __future__ import annotations

from datetime import datetime

import pytest

from analytics import columns
from analytics.capacity import cache as capacity_cache
from analytics.capacity import forecast as capacity_forecast
from analytics.ingest.demo import fleet
from tests.conftest import run_page

PAGE = "pages/4_Capacity.py"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One fit cache for the module: the first test fits, the others read (as the page does)."""
    return tmp_path_factory.mktemp("forecast-cache")


@pytest.fixture
def cache_dir(shared_cache, monkeypatch):
    monkeypatch.setattr(capacity_cache, "DEFAULT_CACHE_DIR", shared_cache)
    from ui import capacity

    capacity.clear()  # Streamlit's cache is per process: each test starts from the disk cache only
    return shared_cache


def test_a_cold_visit_shows_the_baseline_at_once_and_backtests_and_fits_in_the_background(store, cache_dir):
    from ui import capacity

    at = run_page(PAGE, range="all", dep=fleet.GROWING)
    assert not at.exception, [e.message for e in at.exception]
    fitting = " ".join(c.value for c in at.caption)
    if not list(cache_dir.glob("*.parquet")):  # nothing fitted yet in this module: the page did not wait
        assert "Backtests and fits are running in the background" in fitting
        assert any("Backtesting every model in the background" in i.value for i in at.info)
    capacity.background().wait(timeout=600)
    at.run()
    assert not at.exception
    assert "running in the background" not in " ".join(c.value for c in at.caption)
    assert list(cache_dir.glob("*.parquet")), "the background fits landed in the disk cache"


@pytest.fixture
def page(store, cache_dir):
    from ui import capacity

    at = run_page(PAGE, range="all", dep=fleet.GROWING)
    assert not at.exception, [e.message for e in at.exception]
    capacity.background().wait(timeout=600)  # the first visit fits in the background
    at.run()
    at.slider(key="cap_weeks").set_value(4).run()  # the growth crosses the verified peak after ~2 weeks
    assert not at.exception, [e.message for e in at.exception]
    return at


def _labels(at) -> list[str]:
    return [b.label for b in at.get("download_button")]


def _table(at, name: str):
    return at.dataframe[_labels(at).index(f"Download {name} (CSV)")].value


def test_the_growing_deployment_shows_when_its_capacity_runs_out(page):
    warnings = [w.value for w in page.warning]
    assert any(fleet.GROWING in w and "expected demand exceeds SLO capacity from" in w for w in warnings)
    assert [m.value for m in page.metric][:3] == ["1 of 1", "0", "1"], "short within the horizon, not now"
    outlook = _table(page, "capacity outlook")
    assert list(outlook["deployment"]) == [fleet.GROWING]
    assert outlook["capacity_exhausted_at"].notna().all()


def test_the_page_shows_charts_the_model_scoreboard_and_csv_for_every_table(page):
    assert len(page.get("plotly_chart")) == 3, "forecast, the latency-vs-load curve of its one TTFT SLO (chat-ttft), fleet"
    assert _labels(page) == [f"Download model scoreboard {fleet.GROWING} (CSV)", "Download capacity outlook (CSV)",
                             "Download gpus by type and week (CSV)"]
    board = _table(page, f"model scoreboard {fleet.GROWING}")
    assert set(board["forecast_model"]) == set(capacity_forecast.MODEL_LABELS.values())
    assert board[["mase", "interval_coverage", "smape"]].notna().all().all()
    (winner,) = board.loc[board["winner"], "forecast_model"]
    verdicts = [m.value for m in page.success if "drives the plan" in m.value]
    assert len(verdicts) == 1 and verdicts[0].startswith(winner), "the page says which model drives the plan and why"
    outlook = _table(page, "capacity outlook")
    assert list(outlook["forecast_model"]) == [winner], "the outlook names the model behind each deployment's plan"
    fleet_table = _table(page, "gpus by type and week")
    assert set(fleet_table["gpu_type"]) == {"L4-24GB"}


def test_display_changes_never_refit(page, cache_dir):
    fits = sorted(p.name for p in cache_dir.glob("*.parquet"))
    assert fits, "the first run filled the disk cache"
    page.number_input(key="cap_growth").set_value(1.5).run()
    page.slider(key="cap_headroom").set_value(50).run()
    page.slider(key="cap_weeks").set_value(4).run()
    assert not page.exception
    assert sorted(p.name for p in cache_dir.glob("*.parquet")) == fits
    assert "include 50% headroom" in " ".join(w.value for w in page.warning)


def test_the_baseline_can_replace_or_overlay_prophet(page):
    page.radio(key="cap_method").set_value("prophet").run()
    page.toggle(key="cap_overlay").set_value(True).run()
    assert not page.exception
    names = [t["name"] for t in __import__("json").loads(page.get("plotly_chart")[0].proto.spec)["data"]]
    assert any(n.startswith("Seasonal naive") for n in names) and any(n.startswith("Prophet") for n in names)
    page.radio(key="cap_method").set_value("seasonal_naive").run()
    assert not page.exception
    names = [t["name"] for t in __import__("json").loads(page.get("plotly_chart")[0].proto.spec)["data"]]
    assert not any(n.startswith("Prophet") for n in names)


def test_demand_in_input_tokens_shows_capacity_per_gpu_in_input_tokens(page):
    page.radio(key="cap_method").set_value("seasonal_naive").run()  # no refit: the metric changes the series
    page.radio(key="cap_metric").set_value("input_tps").run()
    assert not page.exception, [e.message for e in page.exception]
    outlook = _table(page, "capacity outlook")
    assert "per_gpu_input_tps" in outlook.columns and "per_gpu_output_tps" not in outlook.columns
    assert (outlook["per_gpu_input_tps"] > 0).all(), "the plan's capacity is in input tokens/s per GPU"


def test_a_malformed_event_line_is_reported_not_raised(page):
    page.text_area(key="cap_events").set_value("launch, next tuesday").run()
    assert not page.exception
    assert any("event line 1" in e.value for e in page.error)


def test_a_known_event_is_accepted_and_refits_the_forecast(page, cache_dir):
    before = set(cache_dir.glob("*.parquet"))
    page.text_area(key="cap_events").set_value("launch, 2026-11-04, 2").run()
    assert not page.exception and not page.error
    assert set(cache_dir.glob("*.parquet")) > before, "events change the model, so it is refitted"


def test_the_page_and_the_forecast_command_give_the_same_capacity_numbers(page, store, capsys):
    """Same window (the end of the data, 60 days back), same SLO file, same defaults: same plan."""
    import argparse
    import json

    from analytics.cli import forecast as forecast_cli

    shown = _table(page, "capacity outlook").iloc[0]  # the page fixture: 4 weeks, the rest at defaults
    parser = argparse.ArgumentParser()
    forecast_cli.add_arguments(parser)
    assert forecast_cli.run(parser.parse_args(["--json", "--deployment", fleet.GROWING, "--horizon", "28d"]), store) == 0
    (cli,) = json.loads(capsys.readouterr().out)
    assert cli["gpus_current"] == shown["gpus_current"]
    per_gpu = next(c for c in shown.index if c.startswith("per_gpu"))  # the table holds numbers rounded as shown
    assert columns.text(per_gpu, cli["per_gpu_throughput"]) == columns.text(per_gpu, shown[per_gpu])
    assert columns.text("gpus_needed_peak", cli["gpus_needed_peak"]) == columns.text("gpus_needed_peak", shown["gpus_needed_peak"])
    assert cli["capacity_exhausted_at"] is not None
    assert datetime.fromisoformat(cli["capacity_exhausted_at"]) == shown["capacity_exhausted_at"].to_pydatetime()
