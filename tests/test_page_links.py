"""A copied link reproduces a page's own choices (ui.page.linked), beside the global filters;
a choice in a link that the page cannot honour is said in one line and replaced."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import run_page

WHATIF = "pages/2_What_if.py"


def _param(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value if isinstance(value, str) else value[-1]


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_what_if_link_opens_the_slo_target_window_and_threshold_it_names(store):
    at = _ok(run_page(WHATIF, range="28d", slo="chat-llama3-8b-use-ttft", target="99.93", window="7d",
                      threshold="630"))
    assert at.selectbox(key="whatif_slo").value == "chat-llama3-8b-use-ttft"
    assert at.number_input(key="whatif_target_exact").value == 99.93  # the typed value wins...
    assert at.select_slider(key="whatif_target").value == 99.92  # ...the slider shows the nearest stop
    assert at.selectbox(key="whatif_window").value == "7d"
    assert at.number_input(key="whatif_threshold_exact").value == 630.0
    assert at.select_slider(key="whatif_threshold").value == 600.0
    assert not at.warning
    assert any("between edges 600 and 800 ms" in i.value for i in at.info)
    proposed = [m.label for m in at.metric]
    assert proposed[:2] == ["Attainment", "Budget left"]


def test_page_choices_and_filters_share_the_link(store):
    at = _ok(run_page(WHATIF, range="28d", slo="fleet-availability"))
    at.select_slider(key="whatif_target").set_value(99.95).run()
    _ok(at)
    assert _param(at, "range") == "28d"  # the filters' parameter survives the page's
    assert _param(at, "slo") == "fleet-availability"
    assert _param(at, "target") == "99.95"
    assert at.number_input(key="whatif_target_exact").value == 99.95  # the slider wrote the exact value


def test_typing_a_target_moves_the_slider_to_the_nearest_stop(store):
    at = _ok(run_page(WHATIF, range="28d", slo="fleet-availability"))
    at.number_input(key="whatif_target_exact").set_value(99.935).run()
    _ok(at)
    assert at.select_slider(key="whatif_target").value == 99.94
    assert _param(at, "target") == "99.935"
    assert at.metric[4].value != at.metric[0].value or at.metric[5].value != at.metric[1].value


def test_choosing_another_slo_starts_from_its_own_target(store):
    at = _ok(run_page(WHATIF, range="28d", slo="fleet-availability", target="99.99"))
    at.selectbox(key="whatif_slo").set_value("chat-llama3-8b-use-ttft").run()
    _ok(at)
    assert at.number_input(key="whatif_target_exact").value == 99.0  # slos.yaml: its target
    assert _param(at, "target") == "99.0"
    assert _param(at, "threshold") == "600.0"


def test_invalid_choices_in_a_what_if_link_are_said_and_replaced(store):
    at = _ok(run_page(WHATIF, range="28d", slo="no-such-slo", target="abc", window="fortnight", share="42"))
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 4, warnings
    assert warnings[0].startswith("Ignored slo=no-such-slo in the link: not one of the choices here; showing ")
    assert "Ignored target=abc in the link: not a number from 1% to 99.9999%" in warnings[1]
    assert warnings[2].startswith("Ignored window=fortnight in the link")
    assert warnings[3] == "Ignored share=42 in the link: not one of the choices here; showing 90."
    assert at.selectbox(key="whatif_slo").value == at.selectbox(key="whatif_slo").options[0]
    assert _param(at, "share") == "90"  # the link now holds what is shown


def test_an_slos_link_opens_the_detail_of_the_slo_it_names(store):
    at = _ok(run_page("pages/1_SLOs.py", range="28d", slo="eu-west-availability"))
    assert at.selectbox(key="slo_detail").value == "eu-west-availability"
    assert not at.warning
    bad = _ok(run_page("pages/1_SLOs.py", range="28d", slo="<b>gone</b>"))
    assert any(w.value.startswith("Ignored slo=") and "not one of the choices here" in w.value for w in bad.warning)
    assert bad.selectbox(key="slo_detail").value == bad.selectbox(key="slo_detail").options[0]


def test_a_gpu_link_opens_the_heatmap_and_latency_it_names(store):
    at = _ok(run_page("pages/3_GPU_efficiency.py", range="28d", heat="gpu_util", rows="gpu", latency="e2e_p99_ms",
                      idle="0.2"))
    assert at.radio(key="gpu_heat_metric").value == "gpu_util"
    assert at.radio(key="gpu_heat_rows").value == "gpu"
    assert at.radio(key="gpu_scatter_latency").value == "e2e_p99_ms"
    assert at.number_input(key="gpu_idle").value == 0.2
    assert not at.warning


def test_a_capacity_link_opens_the_scenario_and_deployment_it_names(store):
    at = _ok(run_page("pages/4_Capacity.py", range="28d", method="seasonal_naive", weeks="3", headroom="40",
                      deployment="chat-llama3-8b-euw", baseline="maybe"))
    assert at.radio(key="cap_method").value == "seasonal_naive"
    assert at.slider(key="cap_weeks").value == 3
    assert at.slider(key="cap_headroom").value == 40
    assert at.selectbox(key="cap_deployment").value == "chat-llama3-8b-euw"
    assert [w.value for w in at.warning if w.value.startswith("Ignored")] == [
        "Ignored baseline=maybe in the link: not one of the choices here; showing no."]
