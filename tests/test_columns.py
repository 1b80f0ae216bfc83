"""The column registry (analytics/columns.py): every column a page, CSV, the weekly report or a CLI
table shows has a label, a unit and one format; CSVs hold raw values under `name_unit` names."""

from __future__ import annotations

import ast
import io
import math
import re
from datetime import UTC, datetime

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics import columns
from analytics.slo import state as states
from tests.conftest import ROOT, run_page

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PAGES = ["app.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]


def test_every_csv_name_is_snake_case_and_ends_with_its_unit():
    for c in columns.REGISTRY.values():
        assert SNAKE.match(c.csv_name), c.name
        if c.spec.unit:
            assert c.csv_name.endswith(f"_{c.spec.unit}") or c.csv_name.endswith(f"_per_{c.spec.unit}"), c.name


def test_every_column_has_a_label_and_a_reason_for_an_empty_cell():
    for c in columns.REGISTRY.values():
        assert c.label and "_" not in c.label, f"{c.name}: the label shows an internal name: {c.label!r}"
        assert c.tooltip.endswith(".") and columns.MISSING in c.tooltip, c.name


@pytest.mark.parametrize("kind", sorted(columns.KINDS))
def test_every_kind_shows_a_missing_value_as_an_em_dash_never_none(kind):
    name = next(c.name for c in columns.REGISTRY.values() if c.kind == kind)
    assert columns.text(name, None) == "—"
    assert columns.text(name, float("nan")) == "—"


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("error_rate", 0.00068, "0.068%"),
    ("attainment", 0.99095, "99.095%"),
    ("budget_remaining", 0.0962, "9.6%"),
    ("ttft_p99_ms", 1401.673, "1,402 ms"),
    ("tpot_p99_ms", 4.26, "4.3 ms"),
    ("idle_cost", 1234.5, "$1,234.50"),
    ("rps", 16.754, "16.75/s"),
    ("burn_rate_1h", 14.4, "14.40×"),
    ("requests", 30021818, "30,021,818"),
    ("hours_to_exhaustion", 27.25, "27.3 h"),  # a half rounds away from zero (rounded)
    ("met_slo", True, "yes"),
    ("start", datetime(2026, 11, 23, 4, 5, tzinfo=UTC), "2026-11-23 04:05"),
])
def test_hand_checked_formats(name, value, shown):
    assert columns.text(name, value) == shown


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("burn_rate_1h", 0.125, "0.13×"),  # a half: away from zero (Python's format: '0.12', half to even)
    ("burn_rate_1h", -0.125, "-0.13×"),
    ("cost_per_1m_output_tokens", 13.295, "$13.30"),  # binary 13.29499999...: Python's format writes $13.29
    ("spent_change", 0.1285, "12.9%"),  # 12.85% (binary 12.849999...): Python's format writes 12.8%
    ("budget_remaining", 0.26596, "26.6%"),  # a Streamlit number column cut it to 26.5%
    ("burn_rate_1h", 0.2378, "0.24×"),  # cut: 0.23
    ("idle_cost", -3.335, "-$3.34"),
    ("error_rate", -0.0000001, "0.000%"),  # never '-0.000%'
    ("e2e_p95_ms", 1402.5, "1,403 ms"),
])
def test_every_view_rounds_half_away_from_zero_on_the_decimal_value(name, value, shown):
    assert columns.text(name, value) == shown


def test_a_long_latency_on_a_card_rounds_by_the_same_rule():
    assert columns.text("e2e_p95_ms", 1125.0, compact=True) == "1.13 s"  # Python's format: 1.12 s (half to even)
    assert columns.text("e2e_p95_ms", 10250.0, compact=True) == "10.3 s"  # Python's format: 10.2 s


def test_a_table_is_given_its_numbers_rounded_to_the_decimals_it_shows():
    frame = pl.DataFrame({"budget_remaining": [0.26596, None], "burn_rate_1h": [0.2378, 0.125],
                          "cost_per_1m_output_tokens": [13.295, 1.0], "requests": [803, 5]})
    shown = columns.rounded_frame(frame)
    assert shown["budget_remaining"].to_list() == [0.266, None]  # 26.6% in a percent column of one decimal
    assert shown["burn_rate_1h"].to_list() == [0.24, 0.13]
    assert shown["cost_per_1m_output_tokens"].to_list() == [13.3, 1.0]
    assert shown["requests"].to_list() == [803, 5]


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("rps", 803 / 604800, "0.0013/s"),  # 803 requests in a week, not '0.00/s'
    ("rps", 0.23, "0.23/s"),
    ("rps", 16.754, "16.75/s"),
    ("output_tokens_per_gpu_s", 0.000456, "0.00046/GPU-s"),
    ("rps", 0.0, "0.00/s"),
])
def test_a_low_rate_keeps_two_significant_digits(name, value, shown):
    assert columns.text(name, value) == shown


def test_a_rate_column_in_a_table_shows_the_decimals_its_lowest_rate_needs():
    rates = pl.Series("rps", [803 / 604800, 16.754, None])
    assert columns.table_decimals("rps", rates) == 4
    assert columns.rounded_frame(rates.to_frame())["rps"].to_list() == [0.0013, 16.754, None]
    assert columns.table_decimals("burn_rate_1h", pl.Series([0.0001])) == 2  # only rates keep significant digits


def test_csv_times_are_utc_as_spreadsheets_read_them_and_the_header_says_utc():
    from datetime import timedelta, timezone

    frame = pl.DataFrame({"start": [datetime(2026, 11, 26, 3, 0, 0, 250, tzinfo=UTC)],
                          "end": [datetime(2026, 11, 26, 6, tzinfo=timezone(timedelta(hours=2)))],
                          "week": [datetime(2026, 11, 23)]})
    assert columns.csv_frame(frame).write_csv() == "start_utc,end_utc,week\n2026-11-26 03:00:00,2026-11-26 04:00:00,2026-11-23\n"


def test_metric_cards_write_long_latencies_in_seconds():
    assert columns.text("e2e_p95_ms", 15133.2, compact=True) == "15.1 s"
    assert columns.text("e2e_p95_ms", 1402.0, compact=True) == "1.40 s"
    assert columns.text("e2e_p95_ms", 505.0, compact=True) == "505 ms"


def test_an_unknown_column_names_itself_and_the_registry():
    with pytest.raises(columns.UnknownColumn, match=r"'sm_active_raw' is not in the column registry \(analytics/columns.py\)"):
        columns.label("sm_active_raw")


def test_a_csv_frame_has_registry_names_one_unit_and_no_float_noise():
    frame = pl.DataFrame({"deployment": ["a"], "error_rate": [0.014646464646464633], "ttft_p99_ms": [14.646464646464633],
                          "idle_cost": [7177.123456], "gpus_needed": [2.0000000001], "requests": [12.0]})
    out = columns.csv_frame(frame)
    assert out.columns == ["deployment", "error_rate_ratio", "ttft_p99_ms", "idle_cost_usd", "gpus_needed", "requests"]
    assert out.row(0) == ("a", 0.014646, 14.6, 7177.12, 2.0, 12)
    assert out["requests"].dtype == pl.Int64


def test_a_long_table_csv_names_each_rows_unit_and_rounds_it_as_its_kind():
    movers = pl.DataFrame({"deployment": ["a", "b"], "metric": ["error_rate", "ttft_p99_ms"],
                           "previous": [0.0123456789, 1401.6734], "current": [0.02, None], "change": [0.62, None]})
    out = columns.csv_frame(movers)
    assert out.columns == ["deployment", "metric", "previous", "current", "change_ratio"]
    assert out["metric"].to_list() == ["error_rate_ratio", "ttft_p99_ms"]
    assert out["previous"].to_list() == [0.012346, 1401.7]
    shown = columns.display_frame(movers)
    assert shown["metric"].to_list() == ["Error rate", "TTFT p99 (ms)"]
    assert shown["previous"].to_list() == ["1.235%", "1,402 ms"] and shown["current"].to_list() == ["2.000%", "—"]



def test_an_attributions_dimensions_show_as_labels_and_stay_names_in_the_csv():
    ranked = pl.DataFrame({"dimension": ["model_version", "input_band", "host_pool"], "value": ["v2", "0-511", "x"]})
    assert columns.display_frame(ranked)["dimension"].to_list() == ["Model version", "Input tokens", "host_pool"]
    assert columns.csv_frame(ranked)["dimension"].to_list() == ["model_version", "input_band", "host_pool"]


def test_a_tiny_negative_change_is_zero_not_minus_zero_in_the_csv():
    out = columns.csv_frame(pl.DataFrame({"error_rate": [-0.0000001, 0.25]}))
    assert out["error_rate_ratio"].to_list() == [0.0, 0.25]
    assert out.write_csv().splitlines()[1] == "0.0"

def _unknown_column_page():
    import polars as pl

    from ui.tables import show_table

    show_table(pl.DataFrame({"deployment": ["a"], "sm_active_raw": [0.5]}), "leak")


def test_a_page_showing_a_column_the_registry_does_not_know_fails():
    at = AppTest.from_function(_unknown_column_page, default_timeout=60).run()
    assert at.exception and "'sm_active_raw' is not in the column registry" in at.exception[0].message


@pytest.mark.parametrize("page", PAGES)
def test_every_table_on_every_page_shows_only_registry_columns(store, page):
    at = run_page(page)
    assert not at.exception, [e.message for e in at.exception]
    assert at.dataframe, f"{page} shows no table"
    for frame in at.dataframe:
        assert not columns.unknown(frame.value.columns), (page, columns.unknown(frame.value.columns))
    for metric in at.metric:  # no 'None' and no internal names on the cards either
        assert metric.value not in ("None", "nan", "–"), (page, metric.label)


def _metric_calls(page: str) -> list[ast.Call]:
    """Every call of something named `metric` or `state_count` in a page's source."""
    tree = ast.parse((ROOT / page).read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr in ("metric", "state_count")]


@pytest.mark.parametrize("page", PAGES)
def test_every_metric_card_on_every_page_takes_its_label_from_a_registry(page):
    """Cards are drawn by ui.format.metric (a registry column) or ui.format.state_count (a state of
    analytics.slo.state); a hand-written label ('GPU cost', f'{icon} Short now') fails here."""
    calls = _metric_calls(page)
    for call in calls:
        where = f"{page}:{call.lineno}"
        if isinstance(call.func.value, ast.Name) and call.func.value.id == "fmt":
            name = call.args[1]
            if isinstance(name, ast.Constant):
                registry = columns.REGISTRY if call.func.attr == "metric" else states.STATES
                assert name.value in registry, (where, name.value)
        else:  # st.metric or a column's .metric: only with a label computed from the registry
            assert not isinstance(call.args[0], ast.Constant | ast.JoinedStr), where


@pytest.mark.parametrize(("name", "card", "sentence"), [
    ("ttft_p99_ms", "TTFT p99", "TTFT p99"), ("error_rate", "Error rate", "error rate"),
    ("cost", "GPU cost", "GPU cost"), ("burn_rate_1h", "Burn rate (1h)", "burn rate (1h)"),
    ("hours_to_exhaustion", "Budget gone in", "budget gone in"), ("e2e_p99_ms", "E2E p99", "E2E p99"),
])
def test_a_card_or_a_sentence_drops_the_unit_its_value_carries(name, card, sentence):
    assert columns.card_label(name) == card
    assert columns.in_sentence(name) == sentence


def test_digits_override_a_columns_decimals_where_a_value_needs_them():
    assert columns.text("target", 0.99995, digits=3) == "99.995%"
    assert columns.text("cost", 1234.5, digits=0) == "$1,235"  # a half rounds away from zero (columns.rounded)
    assert columns.text("cost", 1234.5) == "$1,234.50"


def test_a_tables_csv_parses_back_with_registry_names_and_raw_numbers():
    from ui.tables import csv_bytes

    frame = pl.DataFrame({"deployment": ["=cmd", "b"], "error_rate": [0.0123456789, None],
                          "e2e_p99_ms": [32036.4321, 7.0], "idle_cost": [1234.5, 0.0]})
    back = pl.read_csv(io.StringIO(csv_bytes(frame)))
    assert back.columns == ["deployment", "error_rate_ratio", "e2e_p99_ms", "idle_cost_usd"]
    assert back["deployment"].to_list() == ["'=cmd", "b"]  # csv_safe: a formula stays text
    assert back["error_rate_ratio"].to_list() == [0.012346, None]
    assert back["e2e_p99_ms"].to_list() == [32036.4, 7.0]
    assert all(not math.isnan(v) for v in back["idle_cost_usd"])


def test_the_error_rate_title_states_the_definition_that_leaves_unknown_out():
    # analytics.traffic.summary.error_rate: 1 - ok / requests with a known outcome
    assert columns.chart_title("error_rate") == "Error rate (non-ok / requests with a known outcome)"
    assert "'unknown'" in columns.column("error_rate").tooltip
    assert columns.chart_title("ttft_p99_ms", "LLM deployments") == "TTFT p99 (LLM deployments)"
    assert columns.chart_title("rps") == "Requests/s"


def test_every_field_a_missing_list_can_name_is_a_registry_column():
    from analytics.gpu import efficiency

    assert not columns.unknown(efficiency.MISSABLE)
    assert efficiency.field_names("sm_active, params_b, latency_slo") == "SM activity, model size, a latency SLO"
    assert efficiency.field_names("") is None
