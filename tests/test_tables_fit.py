"""Every page table fits its page: no table scrolls sideways in a real browser at 1280 x 800 (the
narrowest window the dashboard is made for; wider windows only stretch the columns shown), the
columns that answer the page's question come first, and the rest stay in the CSV and are named
under the table."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import columns
from tests.test_browser import _open, _page_urls, app_url, server_log  # noqa: F401  (the seeded server fixtures)
from ui import tables as tables_ui

# scrollWidth > clientWidth of a table's scroller: the table scrolls sideways.
SIDEWAYS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].map(t => {
  const s = t.querySelector('.dvn-scroller');
  return s ? [s.clientWidth, s.scrollWidth] : null;
}).filter(x => x)"""


@pytest.mark.parametrize(("page_name", "path"), _page_urls(), ids=[n for n, _ in _page_urls()])
def test_no_table_scrolls_sideways_at_1280_px(browser, app_url, page_name, path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        _open(page, f"{app_url}/{path}")
        tables = page.locator('[data-testid="stDataFrame"]')
        tables.first.wait_for(state="attached", timeout=120_000)  # a fragment may draw after the script
        page.wait_for_timeout(1000)
        sizes = page.evaluate(SIDEWAYS)
        assert sizes, f"{page_name}: no table"
        wide = [(client, scroll) for client, scroll in sizes if scroll > client + 1]
        assert not wide, f"{page_name}: {len(wide)} of {len(sizes)} tables scroll sideways (visible, content px): {wide}"
    finally:
        page.close()


def test_the_widest_table_shows_what_answers_the_page_first_and_names_the_rest():
    # the GPU page's cost table at full width: 18 columns, far wider than a page
    frame = pl.DataFrame({
        "deployment": ["chat-llama3-70b-use"], "gpu_type": ["H100-80GB"], "gpus": [16], "gpu_hours": [2688],
        "cost": [18144.0], "output_tokens": [123456789], "input_tokens": [987654321],
        "cost_per_1m_output_tokens": [12.5], "cost_per_1k_requests": [0.42], "idle_gpu_hours": [10],
        "idle_cost": [67.5], "idle_fraction": [0.0037], "output_tokens_per_gpu_s": [480.2],
        "goodput_per_gpu": [3.2], "goodput_slo": ["TTFT < 2000 ms and TPOT < 100 ms"], "mfu_estimate": [0.12],
        "not_available": [None],
    })
    px = tables_ui.widths(frame)
    shown, hidden = tables_ui.fit(columns.table_columns("GPU cost", frame.columns), px)
    assert shown[:4] == ["deployment", "cost", "idle_cost", "idle_fraction"]
    assert sum(px[c] for c in shown) <= tables_ui.BUDGET_PX
    assert "output_tokens" in hidden and "input_tokens" not in shown


def test_a_column_is_as_wide_as_its_header_or_its_longest_value():
    px = tables_ui.widths(pl.DataFrame({"requests": [5, 30_021_818], "error_rate": [0.5, None], "why": ["x" * 300, None]}))
    assert px["requests"] == tables_ui._px("30,021,818") and px["requests"] > tables_ui._px(columns.header("requests"))
    assert px["error_rate"] == tables_ui._px(columns.header("error_rate"))  # 'Error rate' is wider than '50.000%'
    assert px["why"] == tables_ui.LONG_PX  # long text is cut (and wraps in a short table)


def test_the_first_column_is_always_shown_and_nothing_past_the_budget():
    px = {"a": 900, "b": 50, "c": 50}
    assert tables_ui.fit(["a", "b", "c"], px) == (["a"], ["b", "c"])
    assert tables_ui.fit(["b", "c", "a"], px) == (["b", "c"], ["a"])


def test_every_table_header_is_short_enough_to_read_in_a_narrow_column():
    long = {c.name: c.header for c in columns.REGISTRY.values() if len(c.header) > 20}
    assert not long, f"headers over 20 characters (give them a short label in analytics/columns.py): {long}"
    for c in columns.REGISTRY.values():  # a short header keeps the full label in its tooltip
        assert not c.short or c.tooltip.startswith(f"{c.label}."), c.name


def _incidents() -> pl.DataFrame:
    """The weekly review's incident table as the demo's week 2026-W48 fills it, one incident noted."""
    from datetime import UTC, datetime

    return pl.DataFrame({
        "incident_key": ["fleet-availability@2026-11-23T01:05Z", "chat-llama3-8b-use-goodput@2026-11-26T09:05Z"],
        "incident": [1, 4], "start": [datetime(2026, 11, 23, 1, 5, tzinfo=UTC), datetime(2026, 11, 26, 9, 5, tzinfo=UTC)],
        "end": [datetime(2026, 11, 23, 7, 40, tzinfo=UTC), datetime(2026, 11, 27, 5, 55, tzinfo=UTC)],
        "duration_min": [395.0, 1250.0], "severity": ["page", "page"],
        "slos": ["eu-west-availability, fleet-availability", "chat-llama3-8b-use-goodput, chat-llama3-8b-use-ttft"],
        "deployments": ["chat-llama3-70b-euw, chat-llama3-8b-euw, code-qwen-32b-euw, code-qwen-7b-euw, "
                        "embed-bge-large-euw, fraud-xgb-euw", "chat-llama3-8b-use"],
        "budget_consumed": [0.108, 0.52], "peak_burn": [115.2, 14.9],
        "top_cause": ["Region eu-west (97% of bad events, 17% of good)", "Model version v2 (100% of bad events, 63% of good)"],
        "preceding_changes": [None, "model_version v1 -> v2 on chat-llama3-8b-use at 2026-11-26 09:00"],
        "note": ["eu-west load balancer drained a healthy pool; fixed by the network team", None],
        "owner": ["alice", None], "noted_at": [datetime(2026, 11, 24, 8, tzinfo=UTC), None],
    })


def test_the_incident_table_shows_top_cause_owner_and_note_and_puts_details_behind_the_menu():
    shown = tables_ui.shown_frame(_incidents())
    order = columns.table_columns("Incidents this week", shown.columns)
    visible, px, tall = tables_ui.layout(shown, order)
    assert visible[:4] == ["incident", "start", "severity", "slos"]
    assert {"top_cause", "owner", "note"} <= set(visible)
    assert {"incident_key", "deployments", "preceding_changes", "noted_at"}.isdisjoint(visible)
    assert tall and sum(px[c] for c in visible) <= tables_ui.BUDGET_PX  # long text wraps in narrower columns
    assert px["slos"] >= tables_ui._px("chat-llama3-8b-use-goodput,")  # an SLO name is never broken mid-word
