"""AppTest for the SLOs and What-if pages against the demo store."""

from __future__ import annotations

import json

import pytest

from analytics import columns
from analytics.slo.files import load_slos
from analytics.slo.state import SLO_STATES, badge
from tests.conftest import ROOT, run_page

SLOS = load_slos(ROOT / "slos.yaml")


def _table(at, title: str):
    """The dataframe rendered just before the 'Download <title> (CSV)' button."""
    labels = [b.label for b in at.get("download_button")]
    return at.dataframe[labels.index(f"Download {title} (CSV)")].value


def _metrics(at) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


@pytest.fixture
def slo_page(store):
    at = run_page("pages/1_SLOs.py", range="28d")
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_list_shows_every_slo_worst_first_with_a_csv_download(slo_page):
    table = _table(slo_page, "SLO status")
    assert set(table["slo"]) == {s.name for s in SLOS}
    ranks = [[badge(s) for s in SLO_STATES].index(s) for s in table["state"]]  # shown with their shapes
    assert ranks == sorted(ranks)
    assert "Download alert episodes (CSV)" in [b.label for b in slo_page.get("download_button")]
    assert len(slo_page.get("plotly_chart")) == 4


def test_choosing_another_slo_changes_the_detail(slo_page):
    before = _metrics(slo_page)["Attainment"]
    slo_page.selectbox(key="slo_detail").set_value("eu-west-availability").run()
    assert not slo_page.exception
    assert _metrics(slo_page)["Attainment"] != before


def test_a_composites_detail_says_what_it_is_composed_of(store):
    at = run_page("pages/1_SLOs.py", range="28d", slo="chat-mistral-7b-aps-journey")
    assert not at.exception, [e.message for e in at.exception]
    captions = [c.value.replace("\\", "") for c in at.caption]
    assert ("Composite of chat-mistral-7b-aps-availability (weight 2), chat-mistral-7b-aps-ttft (weight 1): per "
            "5-minute slot, the weighted mean of their attainment") in captions, captions
    assert "Attainment" in _metrics(at)


def test_the_page_and_the_slo_command_give_the_same_status(slo_page, store, capsys):
    import argparse
    import json

    from analytics.cli import slo as slo_cli

    table = _table(slo_page, "SLO status")
    parser = argparse.ArgumentParser()
    slo_cli.add_arguments(parser)
    assert slo_cli.run(parser.parse_args(["--json"]), store) == 0
    cli = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for row in table.to_dict("records"):  # the table holds its numbers rounded as shown: the same text
        assert badge(cli[row["slo"]]["state"]) == row["state"], row["slo"]
        for name in ("attainment", "budget_remaining"):
            assert columns.text(name, cli[row["slo"]][name]) == columns.text(name, row[name]), (row["slo"], name)


@pytest.mark.parametrize("page", ["pages/1_SLOs.py", "pages/2_What_if.py", "pages/3_GPU_efficiency.py",
                                  "pages/4_Capacity.py"])
def test_a_broken_slo_file_is_the_same_clear_error_on_every_page(store, page):
    from ui import slo as slo_ui

    at = run_page(page, range="28d")
    at.session_state[slo_ui.CONFIG_KEY] = ("slos:\n  - {name: x, sli: availability, target: 100, window: 7d}\n", "bad.yaml")
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The SLO file is invalid: bad.yaml: SLO 'x': target: 100 must be a percentage strictly between 0 and 100 "
        "(fix it, or load another one on the SLOs page)"]


def test_an_invalid_uploaded_file_is_reported_not_raised(store):
    from ui import slo as slo_ui

    at = run_page("pages/1_SLOs.py", range="28d")
    at.session_state[slo_ui.CONFIG_KEY] = ("slos:\n  - {name: x, sli: availability, target: 100, window: 7d}\n", "bad.yaml")
    at.run()
    assert not at.exception
    assert any("SLO 'x': target" in e.value for e in at.error)


@pytest.fixture
def whatif(store):
    at = run_page("pages/2_What_if.py", range="28d")
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="whatif_slo").set_value("chat-llama3-8b-use-ttft").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_what_if_starts_equal_to_the_current_slo(whatif):
    metrics = _metrics(whatif)
    assert metrics["Attainment"][0] == metrics["Attainment"][1]
    assert metrics["Pages"][0] == metrics["Pages"][1]
    assert "Download what-if comparison (CSV)" in [b.label for b in whatif.get("download_button")]


def test_moving_the_target_slider_changes_budget_and_pages(whatif):
    before = _metrics(whatif)
    whatif.select_slider(key="whatif_target").set_value(99.9).run()
    assert not whatif.exception
    after = _metrics(whatif)
    assert after["Budget left"][1] != before["Budget left"][1]
    assert int(after["Pages"][1]) > int(before["Pages"][1])
    assert after["Attainment"][0] == before["Attainment"][0]  # the current side does not move


def test_the_past_windows_chart_labels_the_current_target_as_current_and_the_moved_one_as_proposed(whatif):
    whatif.select_slider(key="whatif_target").set_value(99.7).run()
    assert not whatif.exception
    spec = json.loads(whatif.get("plotly_chart")[-1].proto.spec)
    assert spec["layout"]["title"]["text"].startswith("Attainment of past windows")
    labels = {a["text"] for a in spec["layout"]["annotations"]}
    assert {"current 99.00%", "proposed 99.70%"} <= labels  # chat-llama3-8b-use-ttft: 99% in slos.yaml


def test_a_threshold_between_edges_shows_the_error_bound_note(whatif):
    whatif.number_input(key="whatif_threshold_exact").set_value(630.0).run()
    assert not whatif.exception
    assert any("between edges 600 and 800 ms" in i.value for i in whatif.info)
    assert _metrics(whatif)["Attainment"][1] != _metrics(whatif)["Attainment"][0]


def _pct(text: str) -> float:
    return float(text.rstrip("%"))


def test_suggest_a_target_follows_the_share(whatif):
    (strict,) = _metrics(whatif)["Strictest target met that often"]
    whatif.slider(key="whatif_share").set_value(50).run()
    assert not whatif.exception
    (loose,) = _metrics(whatif)["Strictest target met that often"]
    assert _pct(loose) >= _pct(strict)


def test_goodput_has_two_threshold_sliders(store):
    at = run_page("pages/2_What_if.py", range="28d")
    at.selectbox(key="whatif_slo").set_value("chat-llama3-8b-use-goodput").run()
    assert not at.exception
    at.select_slider(key="whatif_tpot").set_value(20.0).run()
    assert not at.exception
    current, proposed = (_pct(v) for v in _metrics(at)["Attainment"])
    assert proposed < current


PARTIAL_SLOS = """slos:
  - {name: sixty-days, sli: availability, target: 99.999, window: 60d}
  - {name: nothing-measured, deployments: none-such, sli: availability, target: 99, window: 7d}
"""


@pytest.fixture
def partial_page(store):
    from ui import slo as slo_ui

    at = run_page("pages/1_SLOs.py", range="28d")
    at.session_state[slo_ui.CONFIG_KEY] = (PARTIAL_SLOS, "partial.yaml")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_window_longer_than_the_data_is_marked_with_its_covered_share(partial_page):
    # the demo holds 35 days: a 60-day window is 35/60 covered
    (warning, detail) = [w.value for w in partial_page.warning]
    assert "Data covers only part of the window for sixty-days (58.33% of 60d)" in warning
    assert "nothing-measured" not in warning
    assert "58.33% of the 60d window" in detail
    table = _table(partial_page, "SLO status")
    assert table.set_index("slo").loc["sixty-days", "window_covered"] == 0.5833  # 58.33%, rounded as shown


def test_the_detail_gives_the_budget_as_time_and_the_targets_nines(partial_page):
    metrics = _metrics(partial_page)
    assert metrics["Budget left as time"][0].endswith(" min")
    assert any("target 99.999%" in c.value for c in partial_page.caption)


def test_an_slo_without_valid_events_shows_not_measured(partial_page):
    partial_page.selectbox(key="slo_detail").set_value("nothing-measured").run()
    assert _metrics(partial_page)["Attainment"] == ["not measured"]
    assert any(i.value.startswith("No data: no valid events") for i in partial_page.info)
    table = _table(partial_page, "SLO status").set_index("slo")
    assert table.loc["nothing-measured", "state"] == badge("no data")
