"""AppTest for the GPU efficiency page against the demo store."""

from __future__ import annotations

import pytest

from analytics.ingest.demo import fleet
from tests.conftest import run_page

PAGE = "pages/3_GPU_efficiency.py"


@pytest.fixture
def page(store):
    at = run_page(PAGE, range="all")
    assert not at.exception, [e.message for e in at.exception]
    return at


def _table(at, title: str):
    """The dataframe rendered just before the 'Download <title> (CSV)' button."""
    labels = [b.label for b in at.get("download_button")]
    return at.dataframe[labels.index(f"Download {title} (CSV)")].value


def test_the_page_shows_kpis_charts_and_every_table_with_a_csv_download(page):
    assert [m.label for m in page.metric] == ["GPU-hours", "GPU cost", "Idle cost", "Fleet SM activity",
                                              "Saving per 30 days"]
    assert len(page.get("plotly_chart")) == 3
    labels = [b.label for b in page.get("download_button")]
    assert labels == ["Download GPU cost (CSV)", "Download GPU utilisation (CSV)", "Download right-sizing (CSV)",
                      "Download right-sizing evidence (CSV)"]
    cost = _table(page, "GPU cost")
    # every deployment of the fleet (the session store also holds other modules' test deployments)
    assert {d.deployment for d in fleet.FLEET} <= set(cost["deployment"])


def test_the_top_right_sizing_suggestion_is_the_over_provisioned_deployment(page):
    suggestions = _table(page, "right-sizing")
    assert suggestions["deployment"].iloc[0] == fleet.OVER_PROVISIONED
    assert suggestions["monthly_saving"].iloc[0] > 0
    evidence = _table(page, "right-sizing evidence")
    assert fleet.OVER_PROVISIONED in set(evidence["deployment"])


def test_the_cost_table_is_sorted_by_waste_and_says_what_is_missing(page):
    cost = _table(page, "GPU cost")
    idle = cost["idle_cost"].dropna().tolist()
    assert idle == sorted(idle, reverse=True)
    assert cost["deployment"].iloc[0] == fleet.OVER_PROVISIONED
    blind = cost[cost["deployment"] == fleet.NO_PROFILING].iloc[0]
    assert "SM activity" in blind["not_available"]  # named as people read it, not sm_active
    assert any(fleet.NO_PROFILING in c.value for c in page.caption)


def test_a_price_override_changes_the_cost(page):
    before = _table(page, "GPU cost").set_index("deployment")["cost"]
    page.number_input(key="gpu_price_A100-80GB").set_value(5.8).run()
    assert not page.exception
    after = _table(page, "GPU cost").set_index("deployment")["cost"]
    assert after[fleet.OVER_PROVISIONED] == pytest.approx(2 * before[fleet.OVER_PROVISIONED], rel=1e-3)
    assert after["chat-llama3-70b-use"] == before["chat-llama3-70b-use"]  # H100: unchanged


def test_the_heatmap_can_be_coloured_by_peak_memory(page):
    page.radio(key="gpu_heat_metric").set_value("mem_peak_fraction").run()
    page.radio(key="gpu_heat_rows").set_value("gpu").run()
    assert not page.exception
    assert "Peak GPU memory used per GPU and hour" in page.get("plotly_chart")[0].proto.spec
