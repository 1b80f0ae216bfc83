"""The Overview's numbers: error rates only over requests with a known outcome, and changes only
over the hours both periods cover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from analytics.store import conventions
from analytics.traffic import summary
from tests.conftest import ROOT, run_page

DAY = timedelta(days=1)
S = datetime(2026, 10, 4, tzinfo=UTC)


def _totals(**counts) -> pl.DataFrame:
    empty_hist = [[0] * conventions.N_BUCKETS]
    frame = pl.DataFrame({"deployment": ["d"], "region": ["r"], "input_tokens": [0], "output_tokens": [0],
                          **{k: [v] for k, v in counts.items()}})
    return frame.with_columns(pl.Series(h, empty_hist, dtype=pl.List(pl.UInt64)) for h in ("ttft_hist", "e2e_hist"))


def test_requests_without_a_recorded_outcome_are_neither_errors_nor_successes():
    row = summary.summarize(_totals(requests=100, ok=45, unknown=50), 3600).row(0, named=True)
    assert row["error_rate"] == pytest.approx(0.1), "5 bad of the 50 requests with an outcome"
    assert row["rps"] == pytest.approx(100 / 3600), "unknown requests still count as demand"


def test_an_arrival_only_trace_has_no_error_rate_and_no_latency_not_zero():
    row = summary.summarize(_totals(requests=100, ok=0, unknown=100), 3600).row(0, named=True)
    assert row["error_rate"] is None
    assert row["ttft_p99_ms"] is None and row["e2e_p50_ms"] is None


def test_a_partly_covered_previous_period_is_compared_over_the_hours_both_cover():
    """28 days against a previous 28 holding 7 days of data: compare the last 7 days of each."""
    compared = summary.comparison(S, S + 28 * DAY, data_start=S - 7 * DAY, data_end=S + 28 * DAY)
    assert compared.previous == (S - 7 * DAY, S)
    assert compared.current == (S + 21 * DAY, S + 28 * DAY)
    assert compared.partial and compared.compared == 7 * DAY


def test_a_fully_covered_previous_period_is_compared_whole():
    compared = summary.comparison(S, S + 7 * DAY, data_start=S - 30 * DAY, data_end=S + 7 * DAY)
    assert compared.current == (S, S + 7 * DAY) and compared.previous == (S - 7 * DAY, S)
    assert not compared.partial


def test_a_range_running_past_the_end_of_data_compares_only_up_to_it():
    compared = summary.comparison(S, S + 7 * DAY, data_start=S - 30 * DAY, data_end=S + 2 * DAY)
    assert compared.current == (S, S + 2 * DAY) and compared.previous == (S - 7 * DAY, S - 5 * DAY)


def test_no_previous_data_means_no_comparison():
    assert summary.comparison(S, S + 7 * DAY, data_start=S + DAY, data_end=S + 7 * DAY) is None


def test_deployments_that_started_inside_the_compared_window_are_new_not_movers():
    first = pl.DataFrame({"deployment": ["old", "quiet", "new"],
                          "first_ts": [S - 30 * DAY, S - 7 * DAY + timedelta(minutes=20), S - DAY]})
    assert summary.new_in_period(first, (S - 7 * DAY, S)) == ["new"], "a quiet deployment's late first request is not new"


def test_an_old_unrelated_trace_does_not_make_an_empty_previous_period_look_covered():
    seen = pl.DataFrame({"deployment": ["chat", "azure-2023"],
                         "first_ts": [S - 7 * DAY, datetime(2023, 11, 16, tzinfo=UTC)],
                         "last_ts": [S + 28 * DAY - timedelta(minutes=5), datetime(2023, 11, 17, tzinfo=UTC)]})
    span = summary.span_of(seen, ["chat"], timedelta(minutes=5))
    assert span == (S - 7 * DAY, S + 28 * DAY)
    assert summary.comparison(S, S + 28 * DAY, *span).compared == 7 * DAY


def test_the_overview_over_28_days_of_a_35_day_store_compares_only_the_covered_week(store):
    # The demo's last 28 days, as dates: other tests add rows to the session store that move the
    # end of its data, and with it a preset's window.
    at = run_page("app.py", range="custom", **{"from": "2026-10-04", "to": "2026-10-31"})
    assert not at.exception, [e.message for e in at.exception]
    assert any("Changes compare 7 days of each period" in c.value for c in at.caption)
    labels = [b.label for b in at.get("download_button")]
    movers = at.dataframe[labels.index("Download top movers (CSV)")].value
    rates = movers[movers["metric"] == "Requests/s"]
    # The demo fleet's traffic is steady week to week (one deployment grows ~2%/day): the old
    # comparison of 28 days with 7 reported ~+300% for every deployment.
    assert len(rates) == 0 or (rates["change"].abs() < 1.0).all(), rates
    new = " ".join(c.value for c in at.caption if "New since then" in c.value)
    assert "chat-llama3-70b-use" not in new, "a busy deployment with 35 days of data is compared"


APP_SCRIPT = textwrap.dedent("""
    import json, sys
    from datetime import datetime, timedelta, UTC
    import polars as pl
    from streamlit.testing.v1 import AppTest
    from analytics.store.schema import open_store
    from analytics.store import conventions

    store = open_store(sys.argv[1])
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    n = 600
    store.insert(conventions.REQUESTS, pl.DataFrame({
        "ts": [t0 + timedelta(seconds=12 * i) for i in range(n)], "deployment": ["azure-code"] * n,
        "model": ["m"] * n, "model_version": [""] * n, "region": [""] * n, "gpu_type": [""] * n,
        "replica": [""] * n, "status": ["unknown"] * n, "queue_ms": [None] * n, "ttft_ms": [None] * n,
        "tpot_ms": [None] * n, "e2e_ms": [None] * n, "input_tokens": [100] * n, "output_tokens": [10] * n,
        "weight": [1] * n,
    }, schema_overrides={"ts": pl.Datetime("ms", "UTC"), "queue_ms": pl.Float32, "ttft_ms": pl.Float32,
                         "tpot_ms": pl.Float32, "e2e_ms": pl.Float32, "input_tokens": pl.UInt32,
                         "output_tokens": pl.UInt32, "weight": pl.UInt32}))
    at = AppTest.from_file(sys.argv[2], default_timeout=60)
    at.query_params["range"] = "all"
    at.run()
    print(json.dumps({"exception": [e.message for e in at.exception],
                      "metrics": {m.label: m.value for m in at.metric}}))
""")


def test_an_arrival_only_trace_shows_errors_and_latency_as_not_measured(tmp_path):
    """The real Overview in its own process (one embedded store per process) over a store holding
    only requests whose outcome was never recorded."""
    dsn = f"chdb://{tmp_path / 'arrivals'}"
    env = {**os.environ, "CLICKHOUSE_URL": dsn}
    done = subprocess.run([sys.executable, "-c", APP_SCRIPT, dsn, str(ROOT / "app.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["exception"] == []
    metrics = shown["metrics"]
    assert metrics["Error rate"] == "not measured"
    assert metrics["TTFT p99"] == "not measured" and metrics["E2E p50"] == "not measured"
    assert metrics["Requests/s"] not in ("not measured", "–")
