"""Spec: SLOs carry labels (team, service, tier...) from our files and OpenSLO metadata.labels,
and roll up per label value: the worst state, the budget spent weighted by valid events, and how
many SLOs each group holds."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from analytics.errors import SpecError
from analytics.slo.evaluation import evaluate
from analytics.slo.files import parse_text
from analytics.slo.groups import label_keys, roll_up
from tests.test_slo import T0, make_scope, make_slo

HOUR_SLOTS = 12  # 5-minute slots in the 1h window of the SLOs below


def _evaluated(name: str, requests: int, bad: int, labels: dict | None = None):
    """A 90% availability SLO over 1h: `requests` per slot, `bad` of them in the first slot."""
    ok = np.full(HOUR_SLOTS, requests, dtype=np.int64)
    ok[0] -= bad
    slo = make_slo(name=name, target=90, window="1h", **({"labels": labels} if labels else {}))
    return evaluate(slo, make_scope(np.full(HOUR_SLOTS, requests), ok), T0 + timedelta(hours=1))


def test_slos_roll_up_by_label_to_the_worst_state_and_the_budget_spent_weighted_by_valid_events():
    # budget = (1 - 0.9) x valid events: a has 120 events, budget 12, 6 bad: half spent;
    # b has 360 events, budget 36, 72 bad: spent twice over (breached); c spends nothing;
    # d has no traffic and no team label
    chat_a = _evaluated("a", 10, 6, {"team": "chat"})
    chat_b = _evaluated("b", 30, 72, {"team": "chat"})
    search_c = _evaluated("c", 10, 0, {"team": "search", "tier": "1"})
    unlabelled_d = _evaluated("d", 0, 0)
    assert chat_b.state == "breached" and search_c.state == "ok" and unlabelled_d.state == "no data"

    groups = roll_up([search_c, chat_a, unlabelled_d, chat_b], "team")
    assert groups["group"].to_list() == ["chat", None, "search"]  # worst state first
    chat, none, search = groups.iter_rows(named=True)
    # (0.5 x 120 + 2.0 x 360) / (120 + 360) = 780 / 480
    assert chat["budget_spent"] == pytest.approx(1.625, rel=1e-12)
    assert (chat["state"], chat["slo_count"], chat["valid_events"], chat["slo_names"]) == ("breached", 2, 480, "a, b")
    assert (chat["slos_breached"], search["slos_breached"]) == (1, 0)
    assert (none["state"], none["budget_spent"], none["slo_count"]) == ("no data", None, 1)
    assert (search["state"], search["budget_spent"], search["slo_count"]) == ("ok", 0.0, 1)


def test_the_keys_to_group_by_are_every_label_some_slo_has():
    slos = [make_slo(name="a", labels={"team": "chat", "service": "assistant"}), make_slo(name="b"),
            make_slo(name="c", labels={"tier": "1"})]
    assert label_keys(slos) == ["service", "team", "tier"]


def test_labels_under_defaults_merge_with_an_slos_own_which_win():
    text = """
defaults: {window: 28d, labels: {team: platform, tier: "2"}}
slos:
  - {name: a, sli: availability, target: 99.5, labels: {tier: "1", service: chat}}
  - {name: b, sli: availability, target: 99.5}
"""
    a, b = parse_text(text, "slos.yaml")
    assert a.labels == (("service", "chat"), ("team", "platform"), ("tier", "1"))
    assert b.labels == (("team", "platform"), ("tier", "2")) and b.label("service") is None


@pytest.mark.parametrize(
    "labels, message",
    [
        pytest.param("chat", "labels: expected a mapping of label to value, e.g. {team: chat}, got 'chat'",
                     id="not a mapping"),
        pytest.param({"tier": 1}, 'labels.tier: 1 must be a non-empty string (quote numbers: "1")', id="a number"),
        pytest.param({"team": ""}, "labels.team: '' must be a non-empty string", id="empty"),
        pytest.param({"1team": "x"}, "labels: '1team' is not a label name", id="a key not starting with a letter"),
    ],
)
def test_a_bad_label_is_one_line_naming_the_file_and_the_slo(labels, message):
    with pytest.raises(SpecError) as raised:
        parse_text(f"slos:\n  - {{name: chat, sli: availability, target: 99.5, window: 28d, labels: {labels!r}}}\n",
                   "slos.yaml")
    assert str(raised.value).startswith(f"slos.yaml: SLO 'chat': {message}")
    assert "\n" not in str(raised.value)


def test_openslo_metadata_labels_other_than_the_selectors_are_the_slos_labels():
    text = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: chat-availability
  labels: {deployment: chat-*, team: chat, tier: "1"}
  annotations: {mlserving.dev/sli: availability}
spec:
  service: chat
  indicator: {metadata: {name: ok}, spec: {ratioMetric: {counter: true, good: {metricSource: {type: x}},
               total: {metricSource: {type: x}}}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.995}]
"""
    slo, = parse_text(text, "openslo.yaml")
    assert slo.labels == (("team", "chat"), ("tier", "1")) and slo.selector.deployments == ("chat-*",)


# --- the SLOs page, grouped by a label, on the demo store ---------------------------------------


def test_the_slos_page_grouped_by_team_shows_one_row_per_team_with_its_worst_state_and_a_csv(store):
    from analytics.slo.files import PROJECT_SLO_FILE, load_slos
    from analytics.slo.state import SLO_STATES, badge
    from tests.conftest import run_page

    at = run_page("pages/1_SLOs.py", range="28d", group="team")
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="slo_group_by").value == "team"
    labels = [b.label for b in at.get("download_button")]
    grouped = at.dataframe[labels.index("Download SLOs by team (CSV)")].value
    status = at.dataframe[labels.index("Download SLO status (CSV)")].value

    teams = {slo.name: slo.label("team") for slo in load_slos(PROJECT_SLO_FILE)}
    assert sorted(grouped["group"]) == sorted(set(teams.values()))
    assert int(grouped["slo_count"].sum()) == len(teams)
    order = [badge(s) for s in SLO_STATES]
    for row in grouped.to_dict("records"):
        members = status[status["slo"].map(teams) == row["group"]]
        assert row["slo_count"] == len(members)
        assert row["state"] == min(members["state"], key=order.index)  # the worst of its SLOs

    at.selectbox(key="slo_group_by").set_value("none").run()
    assert "Download SLOs by team (CSV)" not in [b.label for b in at.get("download_button")]


def test_the_detail_of_a_breached_slo_shows_its_error_budget_policy(store):
    from tests.conftest import run_page
    from ui import slo as slo_ui

    # a 99.999% availability target over 28 days: the demo's errors spend that budget many times over
    text = ("slos:\n  - {name: strict, sli: availability, target: 99.999, window: 28d, labels: {team: chat},\n"
            "     policy: Freeze non-critical changes; reliability work first.}\n")
    at = run_page("pages/1_SLOs.py", range="28d")
    at.session_state[slo_ui.CONFIG_KEY] = (text, "strict.yaml")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [e.value for e in at.error] == [
        "Error budget exhausted. Policy: Freeze non-critical changes; reliability work first."]
